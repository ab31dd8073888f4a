"""One response field per route and model for every app a test process builds.

FastAPI builds an app's routes on its first request, and for each route it makes a
pydantic TypeAdapter per response model: the route's own and one per entry of the error
responses (``ticketing.schemas.ERROR_RESPONSES``, seven per route). That is ~0.1 s of CPU
per app, which the service pays once per process but the suite paid for every app it
built (one or more per test): about a seventh of the fast tier's CPU. A response field is
a pure function of its name, type and mode, and FastAPI never changes one once made, so
the fields are made once per test process and shared between apps; everything else
about the route (its dependencies, the app's dependency overrides) is still built per app.
"""

from __future__ import annotations

from typing import Any

from fastapi import routing
from fastapi._compat import ModelField, Undefined

_made: dict[tuple[str, Any, str], ModelField] = {}


def install() -> None:
    if getattr(routing.create_model_field, "shared", False):
        return
    # Only the response fields routing.py makes (name, type_ and mode, nothing else): the
    # request parameters' fields (fastapi.dependencies.utils) carry per-route FieldInfo.
    original = routing.create_model_field

    def create_model_field(name: str, type_: Any, default: Any = Undefined,
                           field_info: Any = None, alias: str | None = None,
                           mode: str = "validation") -> ModelField:
        if field_info is not None or alias is not None or default is not Undefined:
            return original(name, type_, default, field_info, alias, mode)  # type: ignore[arg-type]
        key = (name, type_, mode)
        try:
            return _made[key]
        except KeyError:
            field = _made[key] = original(name=name, type_=type_, mode=mode)  # type: ignore[arg-type]
            return field
        except TypeError:  # an unhashable annotation: made anew, as FastAPI does
            return original(name=name, type_=type_, mode=mode)  # type: ignore[arg-type]

    create_model_field.shared = True  # type: ignore[attr-defined]
    routing.create_model_field = create_model_field  # type: ignore[assignment]
