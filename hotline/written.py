"""Files the command line writes for the user (exports): whole, or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def write_whole(target: Path, chunks: Iterable[str]) -> None:
    """Write ``chunks`` (UTF-8) to ``target`` so that a failure partway (no room, a
    database error while the rows are read) leaves no partial file where an export was
    asked for: a regular file is written under another name beside it and renamed when
    whole, as ``db backup`` does (review56). Before (review65), ``hotline export`` onto a
    full disk left a partial CSV at ``target``. A device or a pipe (/dev/stdout, a FIFO) is
    written as it is: nothing can be renamed onto it (and renaming onto /dev/full as root
    would replace the device). An ``OSError`` is raised naming ``target``: ``write`` has no
    file name (ENOSPC), and the temporary name is not one the user gave."""
    try:
        if target.exists() and not target.is_file():
            with target.open("w", encoding="utf-8", newline="") as fh:
                fh.writelines(chunks)
            return
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                    dir=target.parent)
    except OSError as exc:
        raise _naming(exc, target) from exc
    partial = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(chunks)
        os.replace(partial, target)
    except OSError as exc:
        raise _naming(exc, target) from exc
    finally:
        partial.unlink(missing_ok=True)


def _naming(exc: OSError, target: Path) -> OSError:
    return OSError(exc.errno, exc.strerror or str(exc), str(target))
