# The hotline service: HTTP API, SIP IVR, schedulers. Models and recordings live in volumes.
FROM python:3.11-slim-bookworm

# espeak-ng + sox generate the Mandarin prompts when no recorded ones are supplied.
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng sox \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --home-dir /srv/hotline --create-home hotline
WORKDIR /srv/hotline
COPY pyproject.toml README.md constraints.txt ./
COPY ticketing ticketing
COPY asr asr
COPY ivr ivr
COPY outbound outbound
COPY telephony telephony
COPY config config
COPY hotline hotline
COPY knowledge knowledge
RUN pip install --no-cache-dir -c constraints.txt . && mkdir -p /data/models /data/recordings /data/spool /data/shared \
       /data/attachments \
    && chown -R hotline /data

ENV HOTLINE_DATA_DIR=/data \
    HOTLINE_RECORDINGS_DIR=/data/recordings \
    HOTLINE_ATTACHMENTS__DIR=/data/attachments \
    HOTLINE_ASR__MODEL_DIR=/data/models \
    HOTLINE_CONSOLE_SECRET_FILE=/data/shared/console_secret \
    HOTLINE_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
# /data/shared holds the console secret; mount one volume there on every node.
VOLUME ["/data/models", "/data/recordings", "/data/attachments", "/data/spool", "/data/shared"]
USER hotline
EXPOSE 8000 5080/udp 20000-20099/udp
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# Migrations first: the service refuses an un-migrated database by design.
CMD ["sh", "-c", "hotline db upgrade && exec hotline serve"]
