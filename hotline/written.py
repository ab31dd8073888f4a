"""Files the command line writes for the user (exports): whole, or not at all."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path


def write_whole(target: Path, chunks: Iterable[str]) -> None:
    """Write ``chunks`` (UTF-8) to ``target`` so that a failure partway (no room, a
    database error while the rows are read) leaves no partial file where an export was
    asked for: a regular file is written under another name beside it and renamed when
    whole, as ``db backup`` does (review56). Before (review65), ``hotline export`` onto a
    full disk left a partial CSV at ``target``. An ``OSError`` is raised naming
    ``target``: ``write`` has no file name (ENOSPC), and the temporary name is not one the
    user gave.

    Anything else is written as it is, through a link (``_in_place``): nothing may be
    renamed over it. Before (review70), ``hotline export -o /dev/stdout > out.csv`` as
    root renamed the export over the /dev/stdout link (``is_file`` follows links: the
    link's end was the regular file out.csv), leaving out.csv empty, the exit 0 and /dev
    broken; and a writable export in a directory the user cannot write failed."""
    try:
        if _in_place(target):
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


def _in_place(target: Path) -> bool:
    """Whether ``target`` is written directly rather than renamed onto: a link (to a
    device, a pipe, or a file: renaming would replace the link, not write its end), any
    other thing not a regular file (a device, a FIFO), or a file in a directory nobody
    running this can create a name in (the temporary file could not be made beside it;
    the file itself may still be writable, as it was before review65)."""
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        return False  # a new file: created whole by the rename
    if not stat.S_ISREG(mode):  # a link (lstat does not follow it), a device, a FIFO
        return True
    return not os.access(target.parent, os.W_OK | os.X_OK)


def _naming(exc: OSError, target: Path) -> OSError:
    return OSError(exc.errno, exc.strerror or str(exc), str(target))
