"""Is speech recognition ready? One answer for start-up logs, /healthz and `hotline doctor`;
and is it warm (the start-up warm-up over), for /healthz and /metrics."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from asr.model_store import REGISTRY as MODELS
from asr.model_store import ModelError, check_model_dir, offline_hint

if TYPE_CHECKING:
    from asr.engine import WarmUp


@dataclass(frozen=True)
class ModelStatus:
    ready: bool
    path: str
    detail: str


def model_status(model_dir: Path | str, model_name: str) -> ModelStatus:
    path = Path(model_dir) / model_name
    try:
        check_model_dir(path)
    except ModelError as exc:
        return ModelStatus(
            ready=False,
            path=str(path),
            detail=(
                f"transcription is waiting for a model ({exc}); calls are still recorded "
                "and tickets made. Install one with `hotline asr fetch small-cn` (a download); "
                + offline_hint(path, next((s for s in MODELS.values()
                                           if s.name == model_name), None)) + "."
            ),
        )
    return ModelStatus(ready=True, path=str(path), detail="model installed")


@dataclass(frozen=True)
class WarmStatus:
    """Whether the start-up warm-up of recognizers (``asr.warm_recognizers``) is over. It
    says nothing of readiness: a warming node answers calls and decodes them (its calls
    make their own recognizers); it carries fewer at once until then (docs/scaling.md:
    rated 1 call/s before "20 recognizers warmed", 3 after)."""

    warm: bool
    warmed: int
    of: int
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"warm": self.warm, "warmed": self.warmed, "of": self.of, "detail": self.detail}


def warm_status(wanted: int, job: WarmUp | None) -> WarmStatus:
    """``wanted``: the recognizers asked for (``asr.warm_recognizers``); ``job``: the
    warm-up the voice part started (None: none was started)."""
    if wanted == 0:
        return WarmStatus(True, 0, 0, "no start-up warm-up asked for "
                          "(asr.warm_recognizers = 0): calls warm the recognizers they use")
    if job is None:
        return WarmStatus(False, 0, wanted, "no recognizer warmed at start-up (no speech "
                          "model, or no greeting to warm them with; see the start-up log): "
                          "calls warm the recognizers they use")
    if not job.done.is_set():
        return WarmStatus(False, job.warmed, job.count,
                          f"warming recognizers: {job.warmed} of {job.count}; calls are "
                          "answered and decoded meanwhile, fewer at once until it ends")
    if job.error is not None:
        return WarmStatus(False, job.warmed, job.count,
                          f"the warm-up stopped after {job.warmed} of {job.count}: "
                          f"{job.error}; calls warm the rest as they come")
    if job.warmed < job.count:
        return WarmStatus(False, job.warmed, job.count,
                          f"the warm-up was stopped after {job.warmed} of {job.count}")
    return WarmStatus(True, job.warmed, job.count,
                      f"{job.warmed} recognizers warmed in {job.wall_seconds:.0f} s")


def asr_health(model_dir: Path | str, model_name: str,
               warm: WarmStatus | None) -> dict[str, object]:
    """/healthz's ``asr`` (the API's and a node's without it, ``hotline.status``): the
    model re-checked on each call (installing one needs no restart to show up), and the
    warm-up only where this process runs the voice part (``warm``: None elsewhere).
    "warm" is not "ready": a warming node answers calls, fewer at once."""
    asr = model_status(model_dir, model_name)
    return {"ready": asr.ready, "model": asr.path, "detail": asr.detail,
            **({"warm": warm.as_dict()} if warm is not None else {})}


class WarmUpCollector(Collector):
    """The warm-up of this process's voice part, for Prometheus: ``hotline_asr_warm`` (1
    once it is over) and ``hotline_asr_recognizers_warmed``. Nothing from a process
    without a voice part (``track`` never called)."""

    def __init__(self) -> None:
        self._status: weakref.WeakMethod[Callable[[], WarmStatus | None]] | None = None

    def track(self, status: Callable[[], WarmStatus | None]) -> None:
        """``status``: the voice part's own answer, a bound method
        (``hotline.wiring.Background.warm_status``), held weakly: a stopped service that
        is dropped does not keep its engine, and its model, alive through this."""
        self._status = weakref.WeakMethod(status)  # type: ignore[arg-type]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        method = self._status() if self._status is not None else None
        status = method() if method is not None else None
        if status is None:
            return
        yield GaugeMetricFamily("hotline_asr_warm", "1 once the start-up warm-up of "
                                "recognizers is over (the node answers calls either way)",
                                value=int(status.warm))
        yield GaugeMetricFamily("hotline_asr_recognizers_warmed",
                                "Recognizers warmed at start-up so far", value=status.warmed)


WARM_UP = WarmUpCollector()
REGISTRY.register(WARM_UP)
