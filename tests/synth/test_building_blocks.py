"""The deterministic building blocks: ids, UK civil time, places."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime

from caregate.synth import places
from caregate.synth.ids import NAMESPACE, Counter, IdFactory, is_fhir_id
from caregate.synth.times import add_years, age_on, stamp, utc_offset, working_day


def test_ids_are_uuid5_of_seed_and_key() -> None:
    factory = IdFactory(42)
    for key in ("org/0", "p7/Observation/12", "é"):
        assert factory.make(key) == str(uuid.uuid5(NAMESPACE, f"seed=42/{key}"))
    assert IdFactory(1).make("x") != IdFactory(2).make("x")


def test_counter_numbers_each_type_separately() -> None:
    factory = IdFactory(0)
    counter = Counter(factory, "p3")
    first, second, other = counter.next("Observation"), counter.next("Observation"), counter.next("Encounter")
    assert first == factory.make("p3/Observation/0")
    assert second == factory.make("p3/Observation/1")
    assert other == factory.make("p3/Encounter/0")


def test_fhir_id_rule() -> None:
    assert is_fhir_id("a-b.C1") and is_fhir_id("x" * 64)
    assert not is_fhir_id("") and not is_fhir_id("x" * 65) and not is_fhir_id("a_b") and not is_fhir_id(3)


def test_british_summer_time_offsets() -> None:
    assert utc_offset(date(2025, 3, 29)) == "+00:00"
    assert utc_offset(date(2025, 3, 30)) == "+01:00"  # last Sunday in March
    assert utc_offset(date(2025, 10, 25)) == "+01:00"
    assert utc_offset(date(2025, 10, 26)) == "+00:00"  # last Sunday in October


def test_the_offset_changes_at_the_hour_the_clocks_do() -> None:
    """A procedure starting at 23:44 on the Saturday and ending 30 minutes later is still on GMT: the clocks
    go forward only at 01:00, so the end must not be stamped as summer time (it would precede the start)."""
    assert stamp(datetime(2022, 3, 27, 0, 14)) == "2022-03-27T00:14:00+00:00"
    assert stamp(datetime(2022, 3, 27, 2, 30)) == "2022-03-27T02:30:00+01:00"
    assert stamp(datetime(2025, 10, 26, 0, 30)) == "2025-10-26T00:30:00+01:00"
    assert stamp(datetime(2025, 10, 26, 2, 0)) == "2025-10-26T02:00:00+00:00"
    assert stamp(datetime(2024, 7, 1, 9, 5, 7, 999)) == "2024-07-01T09:05:07+01:00"


def test_working_days() -> None:
    saturday = date(2025, 11, 29)
    assert working_day(date(2025, 11, 28), saturday) == date(2025, 11, 28)
    assert working_day(saturday, date(2026, 1, 1)) == date(2025, 12, 1)
    assert working_day(saturday, saturday) == date(2025, 11, 28)  # never past the end of the record


def test_calendar_helpers() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert age_on(date(2000, 6, 15), date(2010, 6, 14)) == 9
    assert age_on(date(2000, 6, 15), date(2010, 6, 15)) == 10


def test_addresses_are_in_the_town() -> None:
    rng = random.Random(1)
    for town in places.TOWNS:
        address = places.address(rng, town)
        assert address["city"] == town.name and address["country"] == "GB"
        assert address["postalCode"].split(" ")[0] in town.districts
