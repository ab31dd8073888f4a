"""The rules' growth check's verdicts kept (``ticketing.pattern_growth``): in the process,
and its passes in the data dir of `hotline serve` (``keep_passes_in``), so a supervisor,
its API workers and the next start walk only what changed. A pattern that grows faster
than the text is refused at every load all the same."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.rule_files import load_rule_text as _load
from tests.support.rule_files import shipped_rule_text as _shipped
from ticketing import pattern_growth
from ticketing.classify import rule_patterns

ROOT = Path(__file__).resolve().parents[2]

# A city's rule written for this test, with a repeat inside a repeat: the classic blow-up.
CITY_RULE = """
[[category_rules]]
id = "city.blocked_drain"
category = "water"
patterns = ['{pattern}']

[[category_rules]]
"""
GROWING = "(?:下水道堵+)+了"
BOUNDED = "下水道堵{1,5}了"


def _with_city_rule(pattern: str) -> str:
    return _shipped().replace("\n[[category_rules]]\n", CITY_RULE.format(pattern=pattern), 1)


@pytest.fixture
def kept_in(tmp_path: Path) -> Iterator[Path]:
    """A data dir the passes are kept in, and nothing of this process's verdicts: as a new
    process's. Put back as they were afterwards."""
    verdicts = dict(pattern_growth._VERDICTS)
    store = pattern_growth._store
    before = (store.path, store.checker, store.passed, set(store.new))
    pattern_growth._VERDICTS.clear()
    pattern_growth.keep_passes_in(tmp_path)
    yield tmp_path
    pattern_growth._VERDICTS.clear()
    pattern_growth._VERDICTS.update(verdicts)
    store.path, store.checker, store.passed, store.new = before


class _Counting:
    """``re._parser`` as the check sees it, each pattern it parses written down (re's own
    compiling parses through its own name, not counted)."""

    def __init__(self, real: Any, walked: list[str]) -> None:
        self._real, self._walked = real, walked

    def parse(self, source: str, flags: int = 0) -> Any:
        self._walked.append(source)
        return self._real.parse(source, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _walked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The patterns the check walks from here on."""
    walked: list[str] = []
    monkeypatch.setattr(pattern_growth, "_parser", _Counting(pattern_growth._parser, walked))
    return walked


def test_a_pattern_that_grows_is_refused_at_every_load_once_the_rest_are_kept(
        kept_in: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    city = tmp_path / "city"
    city.mkdir()
    _load(city, _with_city_rule(BOUNDED))  # every pass kept, the city's rule's too
    assert (kept_in / "pattern-growth-passes").exists()
    walked = _walked(monkeypatch)
    for _ in range(2):  # the in-process verdict, then again
        with pytest.raises(ValueError, match=r"city\.blocked_drain\.patterns\[0\]: a repeat"):
            _load(city, _with_city_rule(GROWING))
    _load(city, _with_city_rule("下水道堵{1,6}了"))  # a load that passes writes passes again
    # As a new process reading the kept passes: refused again, and walked afresh.
    pattern_growth._VERDICTS.clear()
    pattern_growth.keep_passes_in(kept_in)
    with pytest.raises(ValueError, match=r"city\.blocked_drain"):
        _load(city, _with_city_rule(GROWING))
    assert walked.count(GROWING) == 2  # once in this process, once "in the next"
    assert GROWING not in (kept_in / "pattern-growth-passes").read_text()


def test_the_passes_kept_spare_the_next_process_the_walk(
        kept_in: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    city = tmp_path / "city"
    city.mkdir()
    rules = _load(city, _shipped())  # the shipped rules as a file of its own: checked
    grows = [p for _, p in rule_patterns(rules) if pattern_growth._MAY_GROW.search(p.pattern)]
    kept = (kept_in / "pattern-growth-passes").read_text().split()
    assert len(set(kept)) == len({(p.pattern, p.flags) for p in grows}) > 300
    pattern_growth._VERDICTS.clear()  # a new process
    pattern_growth.keep_passes_in(kept_in)
    walked = _walked(monkeypatch)
    assert [p.pattern for p in grows if pattern_growth.growth_fault(p)] == []
    assert walked == []
    # Another checker (an edited module, another Python): every pattern walked again.
    pattern_growth._VERDICTS.clear()
    monkeypatch.setattr(pattern_growth, "_checker", lambda: "another checker")
    pattern_growth._store.path = None
    pattern_growth.keep_passes_in(kept_in)
    assert [p.pattern for p in grows if pattern_growth.growth_fault(p)] == []
    assert len(walked) == len({(p.pattern, p.flags) for p in grows})


def test_a_forged_or_broken_passes_file_is_a_cache_miss(kept_in: Path) -> None:
    (kept_in / "pattern-growth-passes").write_bytes(b"\xff\xfenot hex\n" + b"0" * 63 + b"\n")
    pattern_growth.keep_passes_in(kept_in)
    assert pattern_growth._store.passed == frozenset()
    assert pattern_growth.growth_fault(pattern_growth.re.compile(GROWING)) is not None


# A new process, as a restart or an API worker is, with its own hash seed: the shipped
# rules loaded with the passes kept in the data dir named by argv[1].
_RESTART = r"""
import sys
from pathlib import Path
from ticketing import pattern_growth
from ticketing.classify import load_rules
pattern_growth.keep_passes_in(Path(sys.argv[1]))
load_rules()
"""


def _serve_once(data_dir: Path) -> None:
    """`hotline serve` on ``data_dir``, refused at once (the database not migrated)."""
    env = {"PATH": "/usr/bin:/bin", "HOTLINE_DATA_DIR": str(data_dir),
           "HOTLINE_DATABASE_URL": f"sqlite:///{data_dir / 'none.db'}",
           "HOTLINE_OUTBOUND__ENABLED": "false"}
    subprocess.run([str(Path(sys.executable).with_name("hotline")), "serve", "--role", "api",
                    "--workers", "1", "--port", "1"], cwd=ROOT, env=env, capture_output=True,
                   timeout=120, check=False)


def test_serve_keeps_the_passes_and_a_restart_with_the_same_rules_adds_none(
        tmp_path: Path) -> None:
    """`hotline serve` reads and writes the passes in its data dir, whatever else it then
    does (here: refused at once, the database not migrated). And the same rules are the same
    patterns in every process: else each start (a supervisor, each of its workers, each
    restart) wrote its own spelling of a pattern built from a set's words, the file grew by
    as many lines at every start, and those patterns were walked again each time. The serve
    (its own random hash seed) is the first process; two restarts with other seeds follow
    (suite53: the serve was a test of its own, beside three restarts)."""
    _serve_once(tmp_path)
    counts = [len((tmp_path / "pattern-growth-passes").read_text().split())]
    assert counts[0] > 300
    for seed in ("1", "2"):
        env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _RESTART, str(tmp_path)], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, done.stderr
        counts.append(len((tmp_path / "pattern-growth-passes").read_text().split()))
    assert counts == [counts[0]] * 3
