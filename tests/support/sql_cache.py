"""SQLAlchemy's compiled statements shared by every engine of a test process.

SQLAlchemy keeps the SQL it compiled for a statement in a cache per engine
(``Engine._compiled_cache``) and, for the ORM's flushes, per mapper, keyed by the dialect
object among other things. Every test makes its own engines (``sessions``, each app it
builds, each CLI command run in process), each with its own dialect, so each test compiled
every statement it ran afresh: ~9 % of an ordinary database test's CPU under cProfile
(docs/suite.md, twenty-third round). The product's engines live as long as their process
and compile each statement once; the tests' die young.

Here, in the test process only, the engines' caches and the mappers' are one kind of cache
that keys an entry by what the dialect compiles from (``compile_signature``) instead of by
the dialect object: two engines on the same kind of database and the same server version,
built the same way, find each other's compiled statements. The dialect objects themselves
are not shared: ``ticketing.db.make_engine`` hangs each SQLite engine's writer queue on its
dialect's commit and rollback, and the pool initialises each dialect on its first connect,
as in service. Compilation reads the dialect's settings (its class, the server's version,
parameter style, JSON serialisers, the flags ``initialize`` set); execution (the writer
queue, the pragmas, isolation levels, error handlers) uses the connection's own dialect
and engine, never the compiled statement's. Service processes a test starts (``hotline
serve``) compile as shipped.
"""

from __future__ import annotations

import threading
import weakref
from types import ModuleType
from typing import Any

from sqlalchemy import util
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Mapper

import ticketing.db as db

# Dialect attributes that run a transaction or check a connection, not a compilation:
# make_engine's writer queue on SQLite wraps the first two per engine, its pre-ping on
# PostgreSQL the third (each engine's own record of its connections' rest).
_RUN_TIME = frozenset({"do_commit", "do_rollback", "do_ping"})
_PLAIN = (type(None), bool, int, float, str, tuple, frozenset, type, ModuleType)
# A test process runs a few thousand distinct statements on its two kinds of database
# (the per-engine default is 500, the per-mapper 100).
ENGINE_CACHE_SIZE = 4000

_lock = threading.Lock()
_canonical: dict[Any, Dialect] = {}  # signature: the first dialect seen with it
_seen: weakref.WeakKeyDictionary[Dialect, Dialect] = weakref.WeakKeyDictionary()


def compile_signature(dialect: Dialect) -> tuple[Any, ...]:
    """What ``dialect`` compiles from: its class and its own settings (plain values, and
    callables such as a JSON serialiser by identity). Objects it makes for itself (its
    identifier preparer, type compiler, type memos, event dispatch, psycopg's adapters) follow
    from its class and these settings."""
    items = []
    for name, value in sorted(vars(dialect).items()):
        if name in _RUN_TIME:
            continue
        if isinstance(value, _PLAIN) or callable(value):
            try:
                hash(value)
            except TypeError:  # a tuple holding a list, say
                value = repr(value)
            items.append((name, value))
    return (type(dialect), tuple(items))


def _canonical_dialect(dialect: Dialect) -> Dialect:
    found = _seen.get(dialect)
    if found is not None:
        return found
    if dialect.server_version_info is None:
        return dialect  # not initialised yet (no connection so far): its own, not kept
    with _lock:
        same = _canonical.setdefault(compile_signature(dialect), dialect)
        _seen[dialect] = same
    return same


class SharedCompiledCache(util.LRUCache[Any, Any]):
    """An ``LRUCache`` whose statement keys (``(dialect, cache key, ...)``, as
    ``ClauseElement._compile_w_cache`` makes them) name the dialect by its signature's
    first dialect."""

    __slots__ = ()

    @staticmethod
    def _key(key: Any) -> Any:
        if type(key) is tuple and key and isinstance(key[0], Dialect):
            return (_canonical_dialect(key[0]), *key[1:])
        return key

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(self._key(key), default)

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._key(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(self._key(key), value)

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(self._key(key))

    def __contains__(self, key: object) -> bool:
        return self._key(key) in self._data


shared_cache = SharedCompiledCache(ENGINE_CACHE_SIZE)
_real_create_engine = db.create_engine


def _create_engine(*args: Any, **kwargs: Any) -> Engine:
    engine = _real_create_engine(*args, **kwargs)
    if engine._compiled_cache is not None:  # query_cache_size=0 asked for none
        engine._compiled_cache = shared_cache
    return engine


def _compiled_cache(self: Mapper[Any]) -> SharedCompiledCache:
    return SharedCompiledCache(self._compiled_cache_size)


_compiled_cache.__name__ = "_compiled_cache"  # memoized under the name it replaces


def install() -> None:
    """Every engine ``ticketing.db.make_engine`` makes from now on, and every mapper's flush
    statements, in this process."""
    db.create_engine = _create_engine  # type: ignore[assignment]
    Mapper._compiled_cache = util.HasMemoized.memoized_attribute(  # type: ignore[assignment]
        _compiled_cache)
