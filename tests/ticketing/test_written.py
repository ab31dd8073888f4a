"""``hotline.written.write_whole``: what an export is written onto (review70)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from hotline.written import write_whole


def test_a_link_is_written_through_never_renamed_over(tmp_path: Path) -> None:
    """review70: `hotline export -o /dev/stdout > out.csv` as root: /dev/stdout is a link
    whose end is the regular file out.csv, so the export was renamed over the link --
    out.csv empty, the exit 0, /dev broken. A link made here stands in for /dev/stdout
    (never a device path as a target in a test: the reviewer's check replaced it once)."""
    out = tmp_path / "out.csv"
    out.write_text("")
    stdout = tmp_path / "stdout"
    stdout.symlink_to(out)
    write_whole(stdout, ["工单号,状态\n", "1,受理\n"])
    assert stdout.is_symlink() and stdout.resolve() == out
    assert out.read_text(encoding="utf-8") == "工单号,状态\n1,受理\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "stdout"]


def test_a_new_or_regular_file_is_still_renamed_whole(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    write_whole(out, ["a\n"])
    old = out.stat().st_ino
    write_whole(out, ["b\n"])
    assert out.read_text() == "b\n" and out.stat().st_ino != old  # renamed onto, whole


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another user")
def test_a_writable_file_in_a_read_only_directory_is_written() -> None:
    """review70 (a regression of review65's rename): a user who may write the export
    file but not its directory could export there before; the temporary file beside it
    then could not be made. Run as uid 65534 (root writes any directory)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as top:
        os.chmod(top, 0o755)
        ro = Path(top) / "ro"
        ro.mkdir()
        out = ro / "out.csv"
        out.write_text("old")
        os.chmod(out, 0o666)
        os.chmod(ro, 0o555)
        pid = os.fork()  # the interpreter may not be one uid 65534 can run
        if pid == 0:  # the child: never back into pytest
            status = 1
            try:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
                write_whole(out, ["new"])
                status = 0
            finally:
                os._exit(status)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        assert out.read_text() == "new"
        os.chmod(ro, 0o755)
