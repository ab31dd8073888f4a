"""The classifier warmed at start-up (hotline.wiring.start_warm_up, the one warm-up path,
beside the recognizers'): before, the first classification in a process loaded jieba's
dictionary (2-8 s on a loaded node), paid by the first caller's ticket, and the console's
first live suggestion loaded the knowledge base's tokenizer. Asserted on state: after the
warm-up, neither the first classification nor the first knowledge search loads a
dictionary; /healthz says whether the warm-up is over."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import jieba
import pytest
from fastapi.testclient import TestClient

import knowledge.search
from config import Settings, get_settings
from hotline.app import api_worker_app, create_app
from hotline.roles import Part, ServeRole
from hotline.wiring import TextWarmUp, start_background, warm_up_text
from knowledge import service as kb
from tests.support.harness import free_port
from ticketing import segmenter
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.views import CLASSIFY_IN_WRITER

LOCAL = ("127.0.0.1", 50000)  # may read /healthz's details
WAIT = 300  # a bound against a hang on a loaded machine, not a speed
FIRST_CALLER = "海淀区中关村南大街12号院门口的路灯坏了一个星期了，晚上黑得看不见路"


# jieba's dictionary and the knowledge base's tagger loaded afresh, as in a new process
# (~2.3 CPU-s): the whole suite only (marker "slow", not `scripts/test.sh --fast`). The fast
# tier keeps the warm-up's report, the worker held until warm and the role that warms nothing.
@pytest.mark.slow
def test_after_the_start_up_warm_up_the_first_classification_loads_no_dictionary(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path,
                        recordings_dir=tmp_path / "rec")
    # A fresh process: jieba's dictionary not loaded, nor the knowledge base's tokenizer
    # (this test process may have loaded them before: forgotten for this test).
    monkeypatch.setattr(jieba.dt, "initialized", False)
    segmenter._dictionary.cache_clear()  # (built again by the warm-up)
    monkeypatch.setattr(knowledge.search, "_tokenizer", None)
    monkeypatch.setattr(knowledge.search, "_pos", None)
    with TestClient(create_app(settings, role=ServeRole.API), client=LOCAL) as client:
        background = client.app.state.background
        job = background.text_warm_up
        assert job is not None and job.wait(WAIT) and job.error is None
        assert client.get("/healthz").json()["classifier"]["warm"] is True
        # The search's part-of-speech tagger (what a question asks about), imported and
        # built when first used: by the warm-up, not by the first question.
        assert knowledge.search._pos is not None
        loads: list[object] = []
        initialize = jieba.Tokenizer.initialize

        def counted(self: jieba.Tokenizer, *args: object, **kwargs: object) -> None:
            if not self.initialized:
                loads.append(self)  # (an initialized tokenizer's call returns at once)
            initialize(self, *args, **kwargs)

        monkeypatch.setattr(jieba.Tokenizer, "initialize", counted)
        # The dictionary's one build a process (ticketing.segmenter): not again either.
        build = jieba.Tokenizer.gen_pfdict

        def built(source: object) -> object:
            loads.append(source)
            return build(source)

        monkeypatch.setattr(jieba.Tokenizer, "gen_pfdict", staticmethod(built))
        domain: Domain = client.app.state.domain
        # The first caller's ticket: the model's words come from jieba's global tokenizer.
        understood = domain.understand(FIRST_CALLER)
        assert understood.source == "model" and understood.category == "municipal"
        # The console's first live suggestion: the knowledge base's own tokenizer.
        with client.app.state.sessions() as session:
            kb.search(session=session, text=FIRST_CALLER, today=kb.today(domain))
        assert loads == []  # nothing loaded again
        assert jieba.dt.initialized and knowledge.search._tokenizer is not None


def test_a_process_that_reads_no_words_warms_no_classifier(sqlite_url: str,
                                                            tmp_path: Path) -> None:
    """The outbound role (SMS, reminder and survey calls) classifies nothing: no warm-up,
    nothing said of it."""
    # The dialer binds its SIP port: a free one, not the shipped 5081 another test may hold.
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path,
                        recordings_dir=tmp_path / "rec", outbound={"sip_port": free_port()})
    db = make_engine(settings.database_url)
    background = start_background(settings, make_session_factory(db), Domain.load(settings),
                                  parts=frozenset({Part.JOBS, Part.OUTBOUND}))
    try:
        assert background.text_warm_up is None and background.classifier_status() is None
    finally:
        background.stop()
        db.dispose()


def test_the_warm_up_is_reported_warm_only_once_over_and_never_after_a_failure() -> None:
    job = TextWarmUp()
    assert job.as_dict()["warm"] is False and "loading" in str(job.as_dict()["detail"])
    failed = TextWarmUp(error=RuntimeError("no such table: kb_entries"))
    failed.done.set()
    assert failed.as_dict()["warm"] is False
    assert "no such table" in str(failed.as_dict()["detail"])
    over = TextWarmUp(wall_seconds=3.2)
    over.done.set()
    assert over.as_dict() == {"warm": True,
                              "detail": "classifier and knowledge base warmed in 3.2 s"}


def test_the_warm_up_says_so_before_it_is_done(caplog: pytest.LogCaptureFixture) -> None:
    """Whoever waits for ``done`` has the line already: said after it, the line came once a
    waiting test was over and its log capture closed ("I/O operation on closed file" in the
    suite's output)."""
    seen: list[bool] = []
    jobs: list[TextWarmUp] = []  # empty while warm_up_text has not returned: not done

    class Understood:
        district = None

    class Words:
        def understand(self, text: str) -> Understood:
            return Understood()

        def locate(self, text: str, district: str | None) -> None:
            return None

    class DoneWhenSaid(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "warm in" in record.getMessage():
                seen.append(bool(jobs) and jobs[0].done.is_set())

    handler = DoneWhenSaid()
    logging.getLogger("hotline").addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="hotline"):
            jobs.append(warm_up_text(Words()))  # type: ignore[arg-type]
            assert jobs[0].done.wait(60)
            assert seen == [False]
    finally:
        logging.getLogger("hotline").removeHandler(handler)


def test_a_worker_beside_others_accepts_only_once_warm(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--workers N`: a worker whose start-up is over listens on its socket (hotline.listeners)
    and takes its share of the connections. Its start-up (uvicorn accepts after the lifespan's) ends with
    the warm-up, so the requests go to warm workers meanwhile instead of waiting 2-3 s for
    jieba and the model in a cold one. The warm-up is held here until a timer lets it go."""
    # Only where the files go: every other setting is the shipped one (api_worker_app reads
    # the environment as a real worker does).
    monkeypatch.setenv("HOTLINE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", str(tmp_path / "rec"))
    get_settings.cache_clear()
    release = threading.Timer(1.0, lambda: None)
    words = knowledge.search.words

    def held(text: str) -> list[str]:
        release.join()  # the warm-up thread waits for the timer
        return words(text)

    monkeypatch.setattr(knowledge.search, "words", held)
    release.start()
    try:
        with TestClient(api_worker_app(), client=LOCAL) as client:
            job = client.app.state.background.text_warm_up
            assert job is not None and job.done.is_set() and job.error is None
            assert client.get("/healthz").json()["classifier"]["warm"] is True
            # One of several processes: its filing writer classifies (ticketing.views).
            assert getattr(client.app.state, CLASSIFY_IN_WRITER) is True
    finally:
        release.cancel()
        get_settings.cache_clear()
