"""NHS number Modulus 11 validation and the reserved 999 test range (NHS Data Model and Dictionary)."""

from __future__ import annotations

import random

import pytest

from caregate.fhir import nhs_number


@pytest.mark.parametrize("value", ["9434765919", "943 476 5919", "9990000050"])
def test_known_valid_numbers(value: str) -> None:
    assert nhs_number.is_valid(value)


@pytest.mark.parametrize(
    "value",
    [
        "9434765918",  # wrong check digit
        "9990000000",  # stem whose check digit would be 10: never issued
        "943-476-5919",  # dashes are not an accepted form
        "94 3476 5919",  # spaces only in the 3-3-4 grouping
        " 9434765919",
        "94347659190",
        "943476591",
        "",
        "943476591X",
        "\uff19434765919",  # a full-width digit is not an ASCII digit
    ],
)
def test_invalid_numbers_are_rejected(value: str) -> None:
    assert not nhs_number.is_valid(value)


def test_check_digit_follows_modulus_11() -> None:
    assert nhs_number.check_digit("943476591") == 9
    assert nhs_number.check_digit("999000005") == 0  # 11 - 0 = 11 becomes 0
    assert nhs_number.check_digit("999000000") is None  # 11 - 1 = 10 means no valid number


@pytest.mark.parametrize("stem", ["12345678", "1234567890", "12345678a", "", "\uff11" * 9])
def test_check_digit_needs_nine_ascii_digits(stem: str) -> None:
    with pytest.raises(ValueError):
        nhs_number.check_digit(stem)


def test_generated_numbers_are_valid_and_in_the_test_range() -> None:
    rng = random.Random(2024)
    numbers = [nhs_number.test_number(rng) for _ in range(2000)]
    assert all(len(n) == 10 and n.isdigit() and n.startswith("999") for n in numbers)
    assert all(nhs_number.is_valid(n) and nhs_number.is_test_number(n) for n in numbers)
    assert len(set(numbers)) > 1990  # spread over the range, not a handful of values


def test_generation_is_deterministic() -> None:
    first = [nhs_number.test_number(random.Random(5)) for _ in range(3)]
    assert first[0] == first[1] == first[2]


def test_real_range_numbers_are_not_test_numbers() -> None:
    assert nhs_number.is_valid("9434765919")
    assert not nhs_number.is_test_number("9434765919")


def test_format_number_groups_three_three_four() -> None:
    assert nhs_number.format_number("9434765919") == "943 476 5919"
    assert nhs_number.format_number("943 476 5919") == "943 476 5919"
    with pytest.raises(ValueError):
        nhs_number.format_number("9434765918")


def test_system_uri() -> None:
    assert nhs_number.SYSTEM == "https://fhir.nhs.uk/Id/nhs-number"
