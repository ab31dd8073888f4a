"""Calling the REST API as one of the test city's users."""

from __future__ import annotations

from tests.support.city import City


def auth(city: City, user: str) -> dict[str, str]:
    """The bearer header of ``user``'s API token."""
    return {"Authorization": f"Bearer {city.tokens[user]}"}
