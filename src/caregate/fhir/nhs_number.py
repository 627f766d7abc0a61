"""NHS number validation and test-range generation.

The NHS number is a 10-digit identifier whose last digit is a Modulus 11 check digit (NHS Data Model
and Dictionary, "NHS Number"): multiply the first nine digits by the weights 10, 9, ..., 2, sum the
products, take the remainder modulo 11 and subtract it from 11. A result of 11 gives the check digit 0;
a result of 10 means the nine digits can never form a valid number, so none is issued.

Synthetic and test data must never use numbers that could belong to a real person. NHS England
reserves the range 999 000 000 0 to 999 999 999 9 for testing: those numbers are never allocated to
patients, so they are the only ones the synthetic data generator produces.

In FHIR the number is carried as an ``Identifier`` with the system :data:`SYSTEM` (UK Core Patient).
"""

from __future__ import annotations

import random
import re

SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
"""FHIR ``Identifier.system`` for NHS numbers (UK Core naming system)."""

TEST_PREFIX = "999"
"""Leading digits of the range reserved for test and synthetic data."""

_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
# Either ten bare digits, or the 3-3-4 grouping printed on NHS letters and cards ("943 476 5919").
_FORMAT = re.compile(r"\d{10}|\d{3} \d{3} \d{4}")


def check_digit(nine_digits: str) -> int | None:
    """The Modulus 11 check digit for the first nine digits, or None when no valid number exists.

    Raises ValueError unless ``nine_digits`` is exactly nine ASCII digits.
    """
    if len(nine_digits) != 9 or not nine_digits.isascii() or not nine_digits.isdigit():
        raise ValueError(f"expected nine digits, got {nine_digits!r}")
    total = sum(int(digit) * weight for digit, weight in zip(nine_digits, _WEIGHTS, strict=True))
    result = 11 - total % 11
    if result == 11:
        return 0
    if result == 10:
        return None
    return result


def normalise(value: str) -> str | None:
    """The ten bare digits of ``value`` if it is written in an accepted form, else None.

    Accepted forms are ten digits ("9434765919") or the spaced 3-3-4 form ("943 476 5919");
    anything else (dashes, stray spaces, letters) is rejected rather than guessed at.
    """
    if not isinstance(value, str) or not _FORMAT.fullmatch(value) or not value.isascii():
        return None
    return value.replace(" ", "")


def is_valid(value: str) -> bool:
    """True if ``value`` is a well-formed NHS number whose check digit is correct."""
    digits = normalise(value)
    if digits is None:
        return False
    expected = check_digit(digits[:9])
    return expected is not None and expected == int(digits[9])


def is_test_number(value: str) -> bool:
    """True if ``value`` is a valid NHS number from the reserved 999 test range."""
    digits = normalise(value)
    return digits is not None and digits.startswith(TEST_PREFIX) and is_valid(digits)


def format_number(value: str) -> str:
    """The 3-3-4 spaced presentation of a valid NHS number ("943 476 5919").

    Raises ValueError if ``value`` is not a valid NHS number.
    """
    digits = normalise(value)
    if digits is None or not is_valid(digits):
        raise ValueError(f"not a valid NHS number: {value!r}")
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def test_number(rng: random.Random) -> str:
    """A random valid NHS number from the 999 test range, drawn from ``rng`` (ten bare digits).

    About one in eleven nine-digit stems has no valid check digit; those are skipped, so the
    number of draws taken from ``rng`` varies but is fully determined by its state.
    """
    while True:
        stem = TEST_PREFIX + f"{rng.randrange(1_000_000):06d}"
        digit = check_digit(stem)
        if digit is not None:
            return stem + str(digit)


test_number.__test__ = False  # type: ignore[attr-defined]  # a generator, not a pytest test
