"""What FastAPI derives from each route alone, made once per test process and shared by
every app the process builds.

FastAPI builds an app's routes on the app's first request: per route a pydantic
TypeAdapter for each response model (the route's own and one per error response,
``ticketing.schemas.ERROR_RESPONSES``, seven more) and the dependency tree
of the endpoint's parameters (more TypeAdapters). About 0.1 s of CPU per app, which the
service pays once per process but the suite paid for every app it built (one or more per
test). Made once, the fast tier took a sixth less CPU (228 -> 192 CPU-s, back to back on a
loaded machine; tests/console alone 37.8 -> 28.1). Both are pure functions of the route (name,
path, endpoint, types) and FastAPI never changes them once made, so they are made once;
what belongs to the app is still built per app (the handlers, the app's dependency
overrides, its middleware and state). The first app of every test process builds all
of it the service's way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import params, routing
from fastapi._compat import ModelField, Undefined
from fastapi.dependencies.models import Dependant

_fields: dict[tuple[str, Any, str], ModelField] = {}
_dependants: dict[tuple[str, Callable[..., Any], tuple[params.Depends, ...]],
                  tuple[Dependant, list[ModelField], bool]] = {}


def install() -> None:
    if getattr(routing.create_model_field, "shared", False):
        return
    make_field = routing.create_model_field
    make_dependant = routing._build_dependant_with_parameterless_dependencies

    # Only the response fields routing.py makes (a name, a type and a mode): the request
    # parameters' fields come with the dependency trees below.
    def create_model_field(name: str, type_: Any, default: Any = Undefined,
                           field_info: Any = None, alias: str | None = None,
                           mode: Any = "validation") -> ModelField:
        if field_info is not None or alias is not None or default is not Undefined:
            return make_field(name, type_, default, field_info, alias, mode)
        key = (name, type_, mode)
        try:
            return _fields[key]
        except KeyError:
            field = _fields[key] = make_field(name=name, type_=type_, mode=mode)
            return field
        except TypeError:  # an unhashable annotation: made anew, as FastAPI does
            return make_field(name=name, type_=type_, mode=mode)

    def build_dependant(*, path: str, call: Callable[..., Any],
                        dependencies: Sequence[params.Depends],
                        ) -> tuple[Dependant, list[ModelField], bool]:
        key = (path, call, tuple(dependencies))
        try:
            return _dependants[key]
        except KeyError:
            made = _dependants[key] = make_dependant(path=path, call=call,
                                                     dependencies=dependencies)
            return made
        except TypeError:
            return make_dependant(path=path, call=call, dependencies=dependencies)

    create_model_field.shared = True  # type: ignore[attr-defined]
    routing.create_model_field = create_model_field
    routing._build_dependant_with_parameterless_dependencies = build_dependant
