"""The request stamp: `instant_now` must render what `instant` renders for the same moment."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from caregate.clock import instant_now


def test_instant_now_is_a_fhir_instant_of_the_current_moment() -> None:
    for _ in range(3):  # the second call reuses the cached seconds; the text must not go stale
        before = datetime.now(UTC).replace(microsecond=0)
        text = instant_now()
        after = datetime.now(UTC)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)
        stamped = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
        assert before <= stamped <= after
