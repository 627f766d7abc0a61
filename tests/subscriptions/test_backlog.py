"""A subscription far behind catches up from the change log a page at a time, on both engines.

The index keeps only each subscription's newest events; older ones are derived again from the log, read in
pages of `EventIndex.batch` transactions, so an endpoint that was down while hundreds of events happened
still receives every one of them, in order, without the server holding the backlog in memory.
"""

from __future__ import annotations

import anyio
import pytest

from caregate.storage.base import Change
from caregate.subscriptions.events import MARKS, WINDOW, Tracked
from tests.subscriptions.conftest import (
    Live,
    Receiver,
    await_until,
    encounter,
    events_of,
    focuses,
    numbers,
    status_params,
    subscription,
)

pytestmark = pytest.mark.anyio
TRANSACTIONS, PER_TRANSACTION = 8, 40  # 320 events, more than three times what is kept in memory


def _admissions(first: int) -> dict:
    """A transaction Bundle admitting PER_TRANSACTION patients' encounters at once."""
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": encounter(f"e{first + i}", "in-progress"), "request": {"method": "PUT",
                                                                           "url": f"Encounter/e{first + i}"}}
        for i in range(PER_TRANSACTION)]}


async def test_an_endpoint_down_for_hundreds_of_events_gets_them_all_reading_the_log_in_pages(
        live: Live, receiver: Receiver) -> None:
    index = live.service.index
    index.batch = 3  # transactions per page of the log
    receiver.failing = True
    r = await live.client.post("/fhir/Subscription", json=subscription("encounter-admission", endpoint=receiver.url))
    assert r.status_code == 201, r.text
    sub = r.json()["id"]
    for n in range(TRANSACTIONS):
        assert (await live.client.post("/fhir", json=_admissions(n * PER_TRANSACTION))).status_code == 200
    total = TRANSACTIONS * PER_TRANSACTION
    await await_until(lambda: sub in index.subs and index.subs[sub].count == total, what="every event counted")
    tracked = index.subs[sub]
    assert len(tracked.recent) == WINDOW < total, "only the newest events are kept in memory"

    receiver.failing = False
    await await_until(lambda: len(events_of(receiver.bodies())) >= total, timeout=30, what="the whole backlog")
    await anyio.sleep(0.2)
    got = events_of(receiver.bodies())
    assert sorted({n for n, _ in got}) == list(range(1, total + 1)), "no event is missing"
    assert [n for n, _ in got] == sorted(n for n, _ in got), "events arrive in order"
    assert {f for _, f in got} == {f"Encounter/e{i}" for i in range(total)}
    assert max(len(numbers(b)) for b in receiver.bodies("event-notification")) <= 100

    assert index.reads.pages > 0, "the events that left memory were read back from the log"
    assert index.reads.most_transactions <= index.batch
    assert index.reads.most_rows <= index.batch * PER_TRANSACTION


async def test_events_from_the_middle_of_a_long_count_are_derived_again_from_the_log(live: Live) -> None:
    index = live.service.index
    index.batch = 2
    r = await live.client.post("/fhir/Subscription", json=subscription("encounter-admission", channel="websocket"))
    sub = r.json()["id"]
    for n in range(TRANSACTIONS):
        assert (await live.client.post("/fhir", json=_admissions(n * PER_TRANSACTION))).status_code == 200
    pages = index.reads.pages
    got = (await live.client.get(f"/fhir/Subscription/{sub}/$events",
                                 params={"eventsSinceNumber": "95", "eventsUntilNumber": "104"})).json()
    assert numbers(got) == list(range(95, 105))
    assert focuses(got) == [f"Encounter/e{i - 1}" for i in range(95, 105)]
    assert status_params(got)["events-since-subscription-start"] == str(TRANSACTIONS * PER_TRANSACTION)
    assert index.reads.pages > pages and index.reads.most_transactions <= 2
    newest = (await live.client.get(f"/fhir/Subscription/{sub}/$events",
                                    params={"eventsSinceNumber": "300"})).json()
    assert numbers(newest) == list(range(300, 321))


def test_bookmarks_stay_few_however_long_the_count() -> None:
    tracked = Tracked(spec=None, start_t=1, filters=None, stride=10)  # type: ignore[arg-type]
    for t in range(2, 100_002):
        tracked.add(Change(t, "Encounter", f"e{t}", 1, "update"), "")
    assert tracked.count == 100_000 and len(tracked.recent) == WINDOW
    assert 0 < len(tracked.marks) <= MARKS
    assert tracked.seek(1) == (1, 1), "the count's own start"
    for number in (5_000, 63_333, 100_000):
        first, t = tracked.seek(number)
        assert first <= number and t in (first + 1, 1), "a bookmark before the event, with its transaction"
        assert number - first <= 2 * tracked.stride
