"""tests/support/sweep.py: a sweep checks every case and names each one that failed."""

from __future__ import annotations

import pytest

from tests.support.sweep import assert_every


def _even(n: int) -> None:
    assert n % 2 == 0, f"{n} is odd"


def test_every_failing_case_is_named_with_its_message() -> None:
    checked: list[int] = []

    def check(n: int) -> None:
        checked.append(n)
        _even(n)

    with pytest.raises(AssertionError) as failed:
        assert_every([1, 2, 3, 4], check)
    assert checked == [1, 2, 3, 4]  # a failure stops no later case
    message = str(failed.value)
    assert "2 of 4 cases failed" in message
    assert "1: 1 is odd" in message and "3: 3 is odd" in message
    assert "2:" not in message and "4:" not in message


def test_a_sweep_of_passing_cases_passes() -> None:
    assert_every([2, 4, 6], _even)


def test_a_sweep_of_no_case_fails() -> None:
    with pytest.raises(AssertionError, match="no case"):
        assert_every([], _even)


def test_an_error_that_is_no_assertion_is_not_swallowed() -> None:
    def broken(_: int) -> None:
        raise KeyError("a bug in the check, not a failing case")

    with pytest.raises(KeyError):
        assert_every([1], broken)


def test_a_pytest_raises_that_saw_nothing_is_a_named_failure_too() -> None:
    def raises_for_odd(n: int) -> None:
        with pytest.raises(ValueError):
            if n % 2:
                raise ValueError(n)

    with pytest.raises(AssertionError) as failed:
        assert_every([1, 2, 3, 4], raises_for_odd)
    assert "2 of 4 cases failed" in str(failed.value)
    assert "2: DID NOT RAISE" in str(failed.value) and "4: DID NOT RAISE" in str(failed.value)
