"""A member of staff's own Subscriptions, with real tokens, a real rest-hook receiver and both engines: they are
told only of the patients they have a relationship with, at the moment each notification, websocket frame or
`$events` answer goes out, and they reach only their own subscriptions through the operations."""

from __future__ import annotations

import anyio
import pytest

from tests.subscriptions.conftest import Receiver, await_until, events_of, focuses, lab, status_params, subscription
from tests.subscriptions.test_access import BASE, Secured, secured  # noqa: F401

pytestmark = pytest.mark.anyio
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
PASSWORD = "correct horse battery staple"


def _care_team(status: str) -> dict:
    return {"resourceType": "CareTeam", "id": "ct", "status": status, "subject": {"reference": "Patient/alice"},
            "participant": [{"member": {"reference": "Practitioner/drwho"}}]}


RECORD = [
    {"resourceType": "Organization", "id": "surgery", "identifier": [{"system": ODS, "value": "A81001"}]},
    {"resourceType": "Practitioner", "id": "drwho"},
    {"resourceType": "Patient", "id": "alice"}, {"resourceType": "Patient", "id": "bob"},
    _care_team("active"),
]


async def _put(s: Secured, *resources: dict) -> None:
    writer = s.headers("system/*.cruds")
    for res in resources:
        r = await s.client.put(f"/fhir/{res['resourceType']}/{res['id']}", headers=writer, json=res)
        assert r.status_code in (200, 201), r.text


async def _doctor(s: Secured) -> dict[str, str]:
    await _put(s, *RECORD)
    s.auth.users.add("dr-who", PASSWORD, practitioner="drwho", org="A81001")
    return s.headers("user/*.cruds", user="dr-who")


async def _subscribe(s: Secured, headers: dict, **kw: object) -> str:
    r = await s.client.post("/fhir/Subscription", headers=headers,
                            json=subscription("lab-result", base=BASE, **kw))  # type: ignore[arg-type]
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _events(s: Secured, headers: dict, sub: str, content: str = "id-only") -> dict:
    r = await s.client.get(f"/fhir/Subscription/{sub}/$events", headers=headers,
                           params={"eventsSinceNumber": "1", "content": content})
    assert r.status_code == 200, r.text
    return r.json()


async def test_staff_are_notified_of_related_patients_only(secured: Secured, receiver: Receiver) -> None:  # noqa: F811
    headers = await _doctor(secured)
    mine = await _subscribe(secured, headers, endpoint=receiver.url)
    everyone = Receiver()
    try:
        await _subscribe(secured, secured.headers("system/*.rs system/Subscription.cru"), endpoint=everyone.url)
        await _put(secured, lab("a1", patient="alice"), lab("b1", patient="bob"), lab("a2", patient="alice"))
        await await_until(lambda: len(events_of(everyone.bodies())) >= 3, what="the backend's three events")
        await await_until(lambda: len(events_of(receiver.bodies())) >= 2, what="dr Who's two events")
        await anyio.sleep(0.3)  # time enough for a stray notification to arrive
    finally:
        everyone.close()
    assert events_of(receiver.bodies()) == [(1, "Observation/a1"), (2, "Observation/a2")]
    replay = await _events(secured, headers, mine, "full-resource")
    assert focuses(replay) == ["Observation/a1", "Observation/a2"]
    assert [e["resource"]["subject"]["reference"] for e in replay["entry"][1:]] == ["Patient/alice"] * 2
    status = (await secured.client.get(f"/fhir/Subscription/{mine}/$status", headers=headers)).json()
    assert status_params(status)["events-since-subscription-start"] == "2"


async def test_an_ended_relationship_takes_past_events_out_of_what_is_sent(secured: Secured) -> None:  # noqa: F811
    headers = await _doctor(secured)
    sub = await _subscribe(secured, headers, channel="websocket")
    await _put(secured, lab("a1", patient="alice"))
    assert focuses(await _events(secured, headers, sub)) == ["Observation/a1"]
    await _put(secured, _care_team("inactive"))
    replay = await _events(secured, headers, sub, "full-resource")
    assert status_params(replay)["notification-event"] == [] and len(replay["entry"]) == 1
    await _put(secured, lab("a2", patient="alice"))
    assert focuses(await _events(secured, headers, sub)) == []


async def test_a_staff_websocket_carries_related_patients_only(secured: Secured) -> None:  # noqa: F811
    headers = await _doctor(secured)
    sub = await _subscribe(secured, headers, channel="websocket", content="full-resource")
    r = await secured.client.get(f"/fhir/Subscription/{sub}/$get-ws-binding-token", headers=headers)
    assert r.status_code == 200, r.text
    token = next(p["valueString"] for p in r.json()["parameter"] if p["name"] == "token")
    frames: list[dict] = []

    async def send(text: str) -> None:
        import json

        frames.append(json.loads(text))

    session = secured.service.session(send)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(session.pump)
        await session.on_text(f"bind-with-token: {token}")
        await _put(secured, lab("b1", patient="bob"), lab("a1", patient="alice"))
        await await_until(lambda: events_of(frames), what="a websocket event")
        await anyio.sleep(0.3)
        tasks.cancel_scope.cancel()
    assert events_of(frames) == [(1, "Observation/a1")]
    carried = [e["resource"]["subject"]["reference"] for f in frames for e in f["entry"][1:] if "resource" in e]
    assert carried == ["Patient/alice"]


async def test_staff_reach_only_their_own_subscriptions_through_the_operations(secured: Secured) -> None:  # noqa: F811
    headers = await _doctor(secured)
    mine = await _subscribe(secured, headers, channel="websocket")
    theirs = await _subscribe(secured, secured.headers("system/*.rs system/Subscription.cru"), channel="websocket")
    await _put(secured, lab("b1", patient="bob"))
    for op in ("$status", "$events", "$get-ws-binding-token"):
        r = await secured.client.get(f"/fhir/Subscription/{theirs}/{op}", headers=headers)
        assert r.status_code == 404, (op, r.text)
        assert (await secured.client.get(f"/fhir/Subscription/{mine}/{op}", headers=headers)).status_code == 200
    listed = (await secured.client.get("/fhir/Subscription/$status", headers=headers)).json()
    assert [status_params({"entry": [e]})["subscription"]["reference"] for e in listed["entry"]] == \
        [f"{BASE}/Subscription/{mine}"]
    backend = secured.headers("system/*.rs")
    assert (await secured.client.get("/fhir/Subscription/$status", headers=backend)).json()["total"] == 2
    assert focuses(await _events(secured, backend, theirs)) == ["Observation/b1"]


async def test_staff_cannot_take_over_or_remove_another_owners_subscription(secured: Secured) -> None:  # noqa: F811
    headers = await _doctor(secured)
    backend = secured.headers("system/*.cruds")
    theirs = await _subscribe(secured, backend, channel="websocket")
    before = (await secured.client.get(f"/fhir/Subscription/{theirs}", headers=backend)).json()
    taken = {**subscription("lab-result", base=BASE, channel="websocket"), "id": theirs}
    assert (await secured.client.put(f"/fhir/Subscription/{theirs}", json=taken, headers=headers)).status_code == 404
    assert (await secured.client.get(f"/fhir/Subscription/{theirs}", headers=headers)).status_code == 404
    assert (await secured.client.delete(f"/fhir/Subscription/{theirs}", headers=headers)).status_code == 200
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "PUT", "url": f"Subscription/{theirs}"}, "resource": taken}]}
    r = await secured.client.post("/fhir", json=bundle, headers=headers)
    assert r.json()["entry"][0]["response"]["status"] == "404"
    assert (await secured.client.get(f"/fhir/Subscription/{theirs}", headers=backend)).json() == before
    mine = await _subscribe(secured, headers, channel="websocket")
    own = {**subscription("lab-result", base=BASE, channel="websocket", status="off"), "id": mine}
    assert (await secured.client.put(f"/fhir/Subscription/{mine}", json=own, headers=headers)).status_code == 200


async def test_a_rest_hook_retry_carries_only_what_the_owner_may_read_when_it_is_sent(
        secured: Secured, receiver: Receiver) -> None:  # noqa: F811
    headers = await _doctor(secured)
    await _subscribe(secured, headers, endpoint=receiver.url, content="full-resource")
    await await_until(lambda: receiver.bodies("handshake"), what="the handshake")
    receiver.failing = True
    await _put(secured, lab("a1", patient="alice"))
    await await_until(lambda: receiver.failed, what="a failed delivery of alice's event")
    await _put(secured, _care_team("inactive"), {**_care_team("active"), "id": "ct2",
                                                 "subject": {"reference": "Patient/bob"}})
    await _put(secured, lab("b1", patient="bob"))  # event 2, while bob is within reach
    receiver.failing = False
    await await_until(lambda: events_of(receiver.bodies()), what="the retried notification")
    assert events_of(receiver.bodies()) == [(2, "Observation/b1")]
    carried = [e["resource"]["subject"]["reference"] for b in receiver.bodies("event-notification")
               for e in b["entry"][1:]]
    assert carried == ["Patient/bob"]
