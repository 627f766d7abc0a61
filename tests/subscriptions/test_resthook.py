"""rest-hook delivery to a real HTTP endpoint on a loopback port, on both engines.

A scripted sequence of writes gives exactly the expected notifications, in order, with the subscription's
headers; an endpoint that fails is retried with growing pauses, the subscription goes to `error`, and the
first success brings it back to `active` with nothing lost.
"""

from __future__ import annotations

import logging

import anyio
import pytest

from tests.subscriptions.conftest import (
    Live,
    Receiver,
    await_until,
    encounter,
    events_of,
    eventually,
    kind_of,
    numbers,
    status_params,
    subscription,
)

pytestmark = pytest.mark.anyio


async def _put(live: Live, resource: dict) -> None:
    r = await live.client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
    assert r.status_code in (200, 201), r.text


async def _status(live: Live, sub: str) -> dict:
    return (await live.client.get(f"/fhir/Subscription/{sub}")).json()


async def _active(live: Live, sub: str) -> bool:
    return (await _status(live, sub))["status"] == "active"


async def test_a_scripted_sequence_gives_exactly_the_expected_notifications(live: Live, receiver: Receiver) -> None:
    body = subscription("encounter-admission", endpoint=receiver.url, filters=("Encounter?patient=Patient/p1",),
                        headers=("Authorization: Bearer s3cret", "X-Caregate-Test: yes"))
    r = await live.client.post("/fhir/Subscription", json=body)
    assert r.status_code == 201, r.text
    sub = r.json()["id"]
    await await_until(lambda: receiver.bodies("handshake"), what="the handshake")
    handshake = status_params(receiver.bodies()[0])
    assert handshake["type"] == "handshake" and handshake["status"] == "requested"
    await eventually(lambda: _active(live, sub), what="the subscription to become active")

    await _put(live, encounter("e1", "planned"))  # not admitted yet
    await _put(live, encounter("e1", "in-progress"))  # 1
    await _put(live, encounter("e2", "in-progress", patient="p2"))  # another patient
    await _put(live, encounter("e3", "in-progress"))  # 2
    await _put(live, encounter("e1", "finished"))  # a discharge, not an admission
    await _put(live, encounter("e1", "in-progress"))  # 3: admitted again
    expected = [(1, "Encounter/e1"), (2, "Encounter/e3"), (3, "Encounter/e1")]
    await await_until(lambda: len(events_of(receiver.bodies())) >= 3, what="three events")
    await anyio.sleep(0.3)  # time enough for a duplicate or stray notification to show up
    assert events_of(receiver.bodies()) == expected
    kinds = [kind_of(b) for b in receiver.bodies()]
    assert kinds[0] == "handshake" and set(kinds[1:]) == {"event-notification"}
    for got in receiver.received:
        assert got["headers"]["Authorization"] == "Bearer s3cret"
        assert got["headers"]["X-Caregate-Test"] == "yes"
        assert got["headers"]["Content-Type"] == "application/fhir+json"
    last = receiver.bodies("event-notification")[-1]
    assert status_params(last)["status"] == "active"
    assert status_params(last)["events-since-subscription-start"] == "3"
    focus = last["entry"][-1]
    assert focus["fullUrl"].endswith("/Encounter/e1") and focus["request"] == {"method": "PUT",
                                                                                "url": "Encounter/e1"}
    assert "resource" not in focus, "id-only content carries no resource"


async def test_a_failing_endpoint_backs_off_goes_to_error_and_recovers(live: Live, receiver: Receiver,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="caregate.subscriptions")
    receiver.failing = True
    body = subscription("encounter-admission", endpoint=receiver.url, content="full-resource", max_count=2)
    r = await live.client.post("/fhir/Subscription", json=body)
    assert r.status_code == 201, r.text
    sub = r.json()["id"]
    for i in range(3):
        await _put(live, encounter(f"e{i}", "in-progress"))

    def retries() -> list[float]:
        return [r.fields["retry_in_s"] for r in caplog.records if r.getMessage() == "notification delivery failed"]

    await await_until(lambda: len(retries()) >= 6, what="six failed attempts")
    assert len(receiver.failed) >= 6
    assert retries()[:6] == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4], "doubling from backoff_base, capped at backoff_max"
    stored = await _status(live, sub)
    assert stored["status"] == "error" and "503" in stored["error"]
    status = status_params((await live.client.get(f"/fhir/Subscription/{sub}/$status")).json())
    assert status["status"] == "error" and "503" in status["error"]["text"]
    assert receiver.bodies() == []

    receiver.failing = False
    await await_until(lambda: len(events_of(receiver.bodies())) >= 3, what="the events after recovery")
    assert [kind_of(b) for b in receiver.bodies()] == ["handshake", "event-notification", "event-notification"]
    assert [numbers(b) for b in receiver.bodies("event-notification")] == [[1, 2], [3]], "backport-max-count"
    resources = [e["resource"]["id"] for b in receiver.bodies("event-notification") for e in b["entry"][1:]]
    assert resources == ["e0", "e1", "e2"]
    await eventually(lambda: _active(live, sub), what="the subscription to become active again")
    stored = await _status(live, sub)
    assert stored["status"] == "active" and "error" not in stored
