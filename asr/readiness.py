"""Is speech recognition ready? One answer for start-up logs, /healthz and `hotline doctor`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asr.model_store import ModelError, check_model_dir


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
                "and tickets made. Install one with `hotline asr fetch small-cn`."
            ),
        )
    return ModelStatus(ready=True, path=str(path), detail="model installed")
