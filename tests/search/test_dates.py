"""FHIR date/dateTime/instant values as inclusive microsecond ranges (https://hl7.org/fhir/R4/search.html#date)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from caregate.search.dates import MAX_US, MIN_US, format_instant, parse_instant, parse_range

US = 1_000_000


def us(*args: int) -> int:
    """Microseconds since the epoch of a UTC wall-clock time."""
    moment = datetime(*args, tzinfo=UTC)  # type: ignore[misc]
    return int(moment.timestamp()) * US + moment.microsecond


def test_year_is_the_whole_year() -> None:
    assert parse_range("2020") == (us(2020, 1, 1), us(2021, 1, 1) - 1)


def test_month_is_the_whole_month_including_leap_february() -> None:
    assert parse_range("2020-02") == (us(2020, 2, 1), us(2020, 3, 1) - 1)
    assert parse_range("2021-12") == (us(2021, 12, 1), us(2022, 1, 1) - 1)


def test_day_is_the_whole_day_in_utc() -> None:
    assert parse_range("2020-03-04") == (us(2020, 3, 4), us(2020, 3, 5) - 1)


def test_minute_precision_when_seconds_are_left_out() -> None:
    assert parse_range("2020-03-04T10:00Z") == (us(2020, 3, 4, 10, 0), us(2020, 3, 4, 10, 1) - 1)


def test_second_and_fraction_precision() -> None:
    assert parse_range("2020-03-04T10:00:05Z") == (us(2020, 3, 4, 10, 0, 5), us(2020, 3, 4, 10, 0, 6) - 1)
    low = us(2020, 3, 4, 10, 0, 5, 500_000)
    assert parse_range("2020-03-04T10:00:05.5Z") == (low, low + 100_000 - 1)
    low = us(2020, 3, 4, 10, 0, 5, 123_000)
    assert parse_range("2020-03-04T10:00:05.123Z") == (low, low + 999)
    assert parse_range("2020-03-04T10:00:05.1234567Z")[0] == us(2020, 3, 4, 10, 0, 5, 123_456)


def test_timezone_offsets_are_honoured() -> None:
    assert parse_range("2020-03-04T10:00:00+02:00")[0] == us(2020, 3, 4, 8, 0, 0)
    assert parse_range("2020-03-04T10:00:00-05:30")[0] == us(2020, 3, 4, 15, 30, 0)
    assert parse_range("2020-03-04T10:00:00")[0] == parse_range("2020-03-04T10:00:00Z")[0]


def test_leap_second_is_accepted() -> None:
    assert parse_range("2016-12-31T23:59:60Z")[0] == us(2017, 1, 1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "20",
        "2020-13",
        "2020-02-30",
        "2020-00-10",
        "0000",
        "2020-03-04T25:00Z",
        "2020-03-04T10:61Z",
        "2020-03-04T10:00:00+15:00",
        "2020/03/04",
        "yesterday",
        "2020-03-04T",
        "2020-3-4",
    ],
)
def test_invalid_values_raise_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"date|time|year|month|timezone"):
        parse_range(text)


def test_error_names_the_value() -> None:
    with pytest.raises(ValueError, match="'2020-02-30'"):
        parse_range("2020-02-30")


def test_open_period_limits() -> None:
    assert parse_range("0001-01-01")[0] == MIN_US
    assert parse_range("9999-12-31T23:59:59.999999Z")[1] == MAX_US
    assert parse_range("9999") == (us(9999, 1, 1), MAX_US)
    assert parse_range("9999-12")[1] == MAX_US


def test_dates_before_1970_are_negative() -> None:
    assert parse_range("1969-12-31")[1] == -1


def test_format_instant_round_trips() -> None:
    for text in ("2020-03-04T10:00:05.123Z", "1950-01-01T00:00:00.000Z", "2020-03-04T10:00:05.123456Z"):
        assert format_instant(parse_instant(text)) == text
    assert format_instant(0) == "1970-01-01T00:00:00.000Z"
    assert format_instant(MAX_US) == "9999-12-31T23:59:59.999999Z"
    with pytest.raises(ValueError):
        format_instant(MAX_US + 1)
