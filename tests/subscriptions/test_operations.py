"""`$status`, `$events`, `$get-ws-binding-token` and the CapabilityStatement, on both engines.

Events are derived from the change log: the same sequence of writes gives the same numbers to any process
that replays it, a rolled-back write gives none, and a change of filters starts a new count.
"""

from __future__ import annotations

import anyio
import pytest

from caregate.app import build
from caregate.config import Settings
from tests.subscriptions.conftest import (
    BASE,
    Live,
    advertised_topics,
    encounter,
    focuses,
    lab,
    numbers,
    status_params,
    subscription,
)

pytestmark = pytest.mark.anyio


async def _create(live: Live, body: dict) -> str:
    r = await live.client.post("/fhir/Subscription", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _put(live: Live, resource: dict) -> None:
    r = await live.client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
    assert r.status_code in (200, 201), r.text


async def _events(live: Live, sub: str, count: int) -> dict:
    """`$events` once the subscription has `count` events: on PostgreSQL a rolled-back write leaves a hole in
    the log that is passed only after the settle time, so the newest events may take a moment to appear."""
    for _ in range(250):
        status = (await live.client.get(f"/fhir/Subscription/{sub}/$status")).json()
        if int(status_params(status)["events-since-subscription-start"]) >= count:
            break
        await anyio.sleep(0.02)
    return (await live.client.get(f"/fhir/Subscription/{sub}/$events")).json()


async def _lab_scenario(live: Live) -> tuple[str, str]:
    typed = await _create(live, subscription("lab-result", channel="websocket",
                                             filters=("Observation?patient=Patient/123",)))
    untyped = await _create(live, subscription("lab-result", channel="websocket", filters=("patient=Patient/123",)))
    await _put(live, lab("o1", patient="123"))  # typed 1, untyped 1
    await _put(live, lab("o2", patient="456"))  # another patient
    await _put(live, lab("o3", "preliminary", patient="123"))  # not final yet
    await _put(live, lab("o3", "final", patient="123"))  # typed 2, untyped 2
    await _put(live, lab("o1", "amended", patient="123"))  # typed 3, untyped 3
    await _put(live, lab("o4", patient="123", category="vital-signs"))  # not a laboratory result
    await _put(live, {"resourceType": "DiagnosticReport", "id": "r1", "status": "final", "code": {"text": "FBC"},
                      "subject": {"reference": "Patient/123"},
                      "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                                "code": "LAB"}]}]})  # untyped 4 only
    assert (await live.client.delete("/fhir/Observation/o1")).status_code in (200, 204)  # not a trigger
    return typed, untyped


async def test_events_are_numbered_per_subscription_and_replayed_by_number(live: Live) -> None:
    typed, untyped = await _lab_scenario(live)
    c = live.client
    status = (await c.get(f"/fhir/Subscription/{typed}/$status")).json()
    assert status["type"] == "searchset" and status["total"] == 1
    params = status_params(status["entry"][0]["resource"] and status)
    assert params["type"] == "query-status" and params["events-since-subscription-start"] == "3"
    assert params["topic"] == f"{BASE}/SubscriptionTopic/lab-result"

    everything = (await c.get(f"/fhir/Subscription/{typed}/$events")).json()
    assert everything["type"] == "history" and status_params(everything)["type"] == "query-event"
    assert numbers(everything) == [1, 2, 3]
    assert focuses(everything) == ["Observation/o1", "Observation/o3", "Observation/o1"]
    untyped_events = (await c.get(f"/fhir/Subscription/{untyped}/$events")).json()
    assert focuses(untyped_events)[-1] == "DiagnosticReport/r1" and numbers(untyped_events) == [1, 2, 3, 4]

    some = (await c.get(f"/fhir/Subscription/{typed}/$events",
                        params={"eventsSinceNumber": "2", "eventsUntilNumber": "2"})).json()
    assert numbers(some) == [2] and status_params(some)["events-since-subscription-start"] == "3"
    posted = (await c.post(f"/fhir/Subscription/{typed}/$events", json={"resourceType": "Parameters", "parameter": [
        {"name": "eventsSinceNumber", "valueString": "3"}]})).json()
    assert numbers(posted) == [3]

    full = (await c.get(f"/fhir/Subscription/{typed}/$events", params={"content": "full-resource"})).json()
    versions = [(e["resource"]["id"], e["resource"]["status"]) for e in full["entry"][1:]]
    assert versions == [("o1", "final"), ("o3", "final"), ("o1", "amended")], "each event shows its own version"
    empty = (await c.get(f"/fhir/Subscription/{typed}/$events", params={"content": "empty"})).json()
    assert len(empty["entry"]) == 1 and "focus" not in str(empty)

    both = (await c.get("/fhir/Subscription/$status", params={"id": f"{typed},{untyped}"})).json()
    assert [status_params({"entry": [e]})["events-since-subscription-start"] for e in both["entry"]] == ["3", "4"]
    assert (await c.get("/fhir/Subscription/$status", params={"status": "off"})).json()["total"] == 0


async def test_any_process_derives_the_same_numbers(live: Live, database_url: str) -> None:
    typed, _ = await _lab_scenario(live)
    ours = (await live.client.get(f"/fhir/Subscription/{typed}/$events")).json()
    other = build(Settings.from_env(env={}, database_url=database_url, port=8080, no_auth=True), access_log=False)
    service = other.app.fhir.subscriptions.service
    try:
        theirs = await service.events(typed)
    finally:
        await service.stop()
        await other.app.fhir.store.close()
    assert list(zip(numbers(theirs), focuses(theirs), strict=True)) == \
        list(zip(numbers(ours), focuses(ours), strict=True))


async def test_rolled_back_writes_make_no_event_and_new_filters_start_a_new_count(live: Live) -> None:
    c = live.client
    sub = await _create(live, subscription("encounter-admission", channel="websocket",
                                           filters=("Encounter?patient=Patient/p1",)))
    await _put(live, {"resourceType": "Patient", "id": "p1"})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": encounter("e-rolled-back", "in-progress"), "request": {"method": "PUT",
                                                                           "url": "Encounter/e-rolled-back"}},
        {"resource": {"resourceType": "Patient", "id": "p1"},
         "request": {"method": "PUT", "url": "Patient/p1", "ifMatch": 'W/"99"'}}]}
    assert (await c.post("/fhir", json=bundle)).status_code == 412
    await _put(live, encounter("e1", "in-progress"))
    assert focuses(await _events(live, sub, 1)) == ["Encounter/e1"]

    body = (await c.get(f"/fhir/Subscription/{sub}")).json()
    body["_criteria"]["extension"][0]["valueString"] = "Encounter?patient=Patient/p2"
    body["status"] = "active"
    assert (await c.put(f"/fhir/Subscription/{sub}", json=body)).status_code == 200
    assert status_params((await c.get(f"/fhir/Subscription/{sub}/$status")).json())[
        "events-since-subscription-start"] == "0"
    await _put(live, encounter("e2", "in-progress", patient="p2"))
    await _put(live, encounter("e3", "in-progress", patient="p1"))
    assert focuses(await _events(live, sub, 1)) == ["Encounter/e2"]


async def test_operation_errors(live: Live) -> None:
    c = live.client
    sub = await _create(live, subscription("allergy-new", channel="websocket"))
    assert (await c.get("/fhir/Subscription/nope/$status")).status_code == 404
    assert (await c.get(f"/fhir/Subscription/{sub}/$events", params={"eventsSinceNumber": "x"})).status_code == 400
    assert (await c.get(f"/fhir/Subscription/{sub}/$events", params={"content": "all"})).status_code == 400
    assert (await c.get(f"/fhir/Subscription/{sub}/$unknown")).status_code == 404
    assert (await c.delete(f"/fhir/Subscription/{sub}/$status")).status_code == 405
    assert (await c.delete(f"/fhir/Subscription/{sub}")).status_code in (200, 204)
    assert (await c.get(f"/fhir/Subscription/{sub}/$status")).status_code == 410
    bad = subscription("lab-result", endpoint="http://hooks.example.org/x")
    r = await c.post("/fhir/Subscription", json=bad)
    assert r.status_code == 422 and "loopback" in r.text
    issue = r.json()["issue"][0]
    assert r.json()["resourceType"] == "OperationOutcome" and issue["expression"] == ["Subscription.channel.endpoint"]
    r = await c.post("/fhir/Subscription", json={**subscription("allergy-new", channel="websocket"), "reason": ""})
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Subscription.reason"]
    r = await c.put("/fhir/Subscription/s1", json={**subscription("nope", channel="websocket"), "id": "s1"})
    assert r.status_code == 422 and "SubscriptionTopic/encounter-admission" in r.text


async def test_binding_tokens_are_for_websocket_subscriptions(live: Live) -> None:
    c = live.client
    ws = await _create(live, subscription("consent-change", channel="websocket"))
    hook = await _create(live, subscription("consent-change", endpoint="https://hooks.example.org/x"))
    r = await c.post(f"/fhir/Subscription/{ws}/$get-ws-binding-token")
    assert r.status_code == 200, r.text
    params = {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in r.json()["parameter"]}
    assert params["websocket-url"] == "ws://127.0.0.1:8080/fhir/$subscription-ws"
    assert params["subscription"] == ws and len(params["token"]) > 30 and params["expiration"]
    assert (await c.get("/fhir/Subscription/$get-ws-binding-token", params={"id": hook})).status_code == 422
    assert (await c.get("/fhir/Subscription/$get-ws-binding-token")).status_code == 400


async def test_capability_statement_advertises_the_topics(live: Live) -> None:
    cs = (await live.client.get("/fhir/metadata")).json()
    topics = advertised_topics(cs)
    sub = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Subscription")
    assert f"{BASE}/SubscriptionTopic/encounter-admission" in topics
    assert f"{BASE}/SubscriptionTopic/lab-result" in topics and len(topics) == 6
    assert {"status", "events", "get-ws-binding-token"} <= {o["name"] for o in sub["operation"]}
