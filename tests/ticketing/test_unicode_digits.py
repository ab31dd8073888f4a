"""Digits as people type them: a Chinese input method gives full-width ones (２２２２),
some keyboards Arabic-Indic ones; the same number must be found however typed (the full
number already was, by phones.normalise; the last four digits and the ticket number were
not). Superscripts are digits to ``str.isdigit`` and made libphonenumber raise: a 500 for a
search or a new ticket, and an exception for a SIP From user."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.api import auth
from tests.support.city import City
from ticketing.phones import normalise


def _found(client: TestClient, city: City, q: str) -> list[str]:
    r = client.get("/api/v1/tickets", params={"q": q}, headers=auth(city, "operator"))
    assert r.status_code == 200, r.text
    return [t["number"] for t in r.json()["items"]]


def test_digits_of_any_script_find_the_same_tickets(client: TestClient, city: City) -> None:
    r = client.post("/api/v1/tickets", headers=auth(city, "operator"),
                    json={"caller_phone": "13811115678", "demand": "朝阳区望京西园三区停水了"})
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    full_width = str.maketrans("0123456789", "０１２３４５６７８９")
    arabic_indic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    for q in ("5678", "5678".translate(full_width), "5678".translate(arabic_indic),
              number, number.translate(full_width), f" {number.translate(arabic_indic)} "):
        assert _found(client, city, q) == [number], q
    # Superscripts are digits to str.isdigit() but no one's number.
    assert _found(client, city, "⁵⁶⁷⁸") == []


def test_superscript_digits_are_no_number(client: TestClient, city: City) -> None:
    for raw in ("¹²³⁴⁵", "¹¹⁰", "¹³⁸¹¹¹¹⁵⁶⁷⁸", "+86 ¹³⁸¹¹¹¹⁵⁶⁷⁸", "86¹³⁸¹¹¹¹⁵⁶⁷⁸", "⁶⁵¹²³⁴⁵⁶"):
        assert normalise(raw) is None, raw
        r = client.post("/api/v1/tickets", headers=auth(city, "operator"),
                        json={"caller_phone": raw, "demand": "海淀区中关村大街路灯坏了"})
        assert r.status_code == 422 and r.json()["field"] == "caller_phone", (raw, r.text)
    assert normalise("１２３４５") == normalise("12345") == "+8612345"
    assert normalise("٠١٠٦٥١٢٣٤٥٦") == normalise("01065123456") == "+861065123456"


def test_a_ticket_number_typed_in_full_width_opens_the_ticket(client: TestClient,
                                                               city: City) -> None:
    """The search found ２６１２…; the ticket's own routes (GET, events, sign) answered
    404 "not found" for the same number, so a clerk who pasted it took the ticket for gone."""
    r = client.post("/api/v1/tickets", headers=auth(city, "operator"),
                    json={"caller_phone": "13811115679", "demand": "朝阳区望京西园三区停水了"})
    assert r.status_code == 201, r.text
    number, ticket_id = r.json()["number"], r.json()["id"]
    full_width = str.maketrans("0123456789", "０１２３４５６７８９")
    arabic_indic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    for ref in (number.translate(full_width), number.translate(arabic_indic),
                str(ticket_id).translate(full_width)):
        got = client.get(f"/api/v1/tickets/{ref}", headers=auth(city, "operator"))
        assert got.status_code == 200 and got.json()["number"] == number, (ref, got.text)
        events = client.get(f"/api/v1/tickets/{ref}/events", headers=auth(city, "operator"))
        assert events.status_code == 200 and events.json(), (ref, events.text)
    # Superscripts stay no number: not found, not a 500.
    superscript = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    for ref in (number.translate(superscript), str(ticket_id).translate(superscript)):
        assert client.get(f"/api/v1/tickets/{ref}",
                          headers=auth(city, "operator")).status_code == 404, ref
