"""Notifications pass through the access policy: a subscription hears only what the token that wrote it could
read, and each notification carrying events is audited. Real tokens, a real rest-hook receiver, both engines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest

from caregate.interactions.owner import OWNER
from tests.subscriptions.conftest import FAST, Receiver, advertised_topics, await_until, events_of, lab, subscription

pytestmark = pytest.mark.anyio
ORIGIN = "http://127.0.0.1:8080"
BASE = f"{ORIGIN}/fhir"


@dataclass
class Secured:
    client: httpx.AsyncClient
    auth: Any
    service: Any

    def headers(self, scope: str, patient: str | None = None, user: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.auth.issue('app', scope, patient=patient, user=user)[0]}"}


@pytest.fixture
async def secured(database_url: str) -> AsyncIterator[Secured]:
    from caregate.app import build
    from caregate.auth.service import AuthService
    from caregate.config import Settings

    app = build(Settings.from_env(env={}, database_url=database_url, port=8080), access_log=False)
    fhir = app.app.fhir
    auth = AuthService(database_url, BASE)
    auth.clients.add("Test app", "patient/*.cruds user/*.cruds system/*.cruds", client_id="app")
    service = fhir.subscriptions.service
    service.tune(FAST)
    await service.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as c:
            yield Secured(c, auth, service)
    finally:
        await service.stop()
        fhir.bearer.close()
        await fhir.store.close()


async def _subscribe(s: Secured, headers: dict[str, str], receiver: Receiver, **kw: Any) -> str:
    r = await s.client.post("/fhir/Subscription", headers=headers,
                            json=subscription("lab-result", endpoint=receiver.url, base=BASE, **kw))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _write_labs(s: Secured) -> None:
    writer = s.headers("system/*.cruds")
    for id_, patient in (("a1", "alice"), ("b1", "bob"), ("a2", "alice"), ("b2", "bob")):
        r = await s.client.put(f"/fhir/Observation/{id_}", headers=writer, json=lab(id_, patient=patient))
        assert r.status_code == 201, r.text


async def test_a_patient_token_subscription_never_hears_of_another_patient(secured: Secured,
                                                                            receiver: Receiver) -> None:
    everyone = Receiver()
    try:
        mine = await _subscribe(secured, secured.headers("patient/Observation.rs user/Subscription.cru",
                                                         patient="alice"), receiver)
        await _subscribe(secured, secured.headers("user/*.rs user/Subscription.cru"), everyone)
        await _write_labs(secured)
        await await_until(lambda: len(events_of(everyone.bodies())) >= 4, what="the unbounded subscriber's events")
        await await_until(lambda: len(events_of(receiver.bodies())) >= 2, what="alice's events")
        await anyio.sleep(0.3)  # time enough for a stray notification to arrive
        assert events_of(receiver.bodies()) == [(1, "Observation/a1"), (2, "Observation/a2")]
        assert sorted(f for _, f in events_of(everyone.bodies())) == [
            "Observation/a1", "Observation/a2", "Observation/b1", "Observation/b2"]
        stored = (await secured.client.get(f"/fhir/Subscription/{mine}",
                                           headers=secured.headers("system/*.rs"))).json()
        owner = next(e for e in stored["extension"] if e["url"] == OWNER)
        parts = {p["url"]: p.get("valueString", p.get("valueCode")) for p in owner["extension"]}
        assert parts["patient"] == "alice" and parts["scope"] == "patient/Observation.rs user/Subscription.cru"
    finally:
        everyone.close()


async def test_an_owner_cannot_be_claimed_and_the_scopes_types_bound_the_events(secured: Secured,
                                                                                receiver: Receiver) -> None:
    forged = {"url": OWNER, "extension": [{"url": "scope", "valueString": "system/*.rs"}]}
    r = await secured.client.post("/fhir/Subscription", headers=secured.headers("user/Subscription.cru"),
                                  json={**subscription("lab-result", endpoint=receiver.url, base=BASE),
                                        "extension": [forged]})
    assert r.status_code == 201, r.text
    owners = [e for e in r.json()["extension"] if e["url"] == OWNER]
    assert len(owners) == 1
    assert {p["url"]: p.get("valueString") for p in owners[0]["extension"]}["scope"] == "user/Subscription.cru"
    await await_until(lambda: receiver.bodies("handshake"), what="the handshake")
    await _write_labs(secured)
    await anyio.sleep(0.5)
    assert events_of(receiver.bodies()) == [], "a token that cannot read Observations hears of none"


async def test_each_notification_with_events_is_audited(secured: Secured, receiver: Receiver) -> None:
    sub = await _subscribe(secured, secured.headers("patient/Observation.rs user/Subscription.cru",
                                                    patient="alice"), receiver)
    await _write_labs(secured)
    await await_until(lambda: len(events_of(receiver.bodies())) >= 2, what="alice's events")

    async def notices() -> list[dict]:
        r = await secured.client.get("/fhir/AuditEvent", params={"patient": "alice", "_count": "100"},
                                     headers=secured.headers("system/*.rs"))
        assert r.status_code == 200, r.text
        return [e["resource"] for e in r.json().get("entry", [])
                if any(x.get("what", {}).get("reference") == f"Subscription/{sub}"
                       for x in e["resource"].get("entity", ()))]

    found: list[dict] = []
    for _ in range(100):
        found = await notices()
        if sum(1 for e in found for x in e["entity"] if "notification of events" in x.get("description", "")) >= 1:
            break
        await anyio.sleep(0.05)
    assert found, "the delivery left an audit record naming the subscription"
    event = found[0]
    assert event["subtype"][0]["code"] == "operation" and event["outcome"] == "0"
    assert {x["what"]["reference"] for x in event["entity"] if "what" in x} >= {"Patient/alice", f"Subscription/{sub}"}
    assert "Patient/bob" not in str(event)
    agent = event["agent"][0]
    assert agent["purposeOfUse"][0]["coding"][0]["code"] == "TREAT"


async def test_break_glass_access_is_an_event_naming_actor_patient_reason_and_time(secured: Secured,
                                                                                  receiver: Receiver) -> None:
    writer = secured.headers("system/*.cruds")
    assert (await secured.client.put("/fhir/Patient/alice", headers=writer,
                                     json={"resourceType": "Patient", "id": "alice"})).status_code == 201
    watcher = secured.headers("system/*.rs system/Subscription.cru")
    r = await secured.client.post("/fhir/Subscription", headers=watcher, json=subscription(
        "break-glass-access", endpoint=receiver.url, base=BASE, content="full-resource"))
    assert r.status_code == 201, r.text
    sub = r.json()["id"]
    await await_until(lambda: receiver.bodies("handshake"), what="the handshake")

    secured.auth.users.add("dr-who", "correct horse battery staple", practitioner="drwho", org="A81001")
    clinician = secured.headers("user/*.rs", user="dr-who")
    assert (await secured.client.get("/fhir/Patient/alice", headers=clinician)).status_code == 404  # no event
    urgent = {**clinician, "X-Purpose-Of-Use": "ETREAT", "X-Break-Glass-Reason": "unconscious in A&E"}
    assert (await secured.client.get("/fhir/Patient/alice", headers=urgent)).status_code == 200
    await await_until(lambda: events_of(receiver.bodies()), what="the break-glass notification")
    await anyio.sleep(0.3)
    got = receiver.bodies("event-notification")
    assert len(got) == 1 and [n for n, _ in events_of(got)] == [1]
    record = got[0]["entry"][1]["resource"]
    assert record["resourceType"] == "Basic" and record["subject"] == {"reference": "Patient/alice"}
    assert record["author"]["reference"] == "Practitioner/drwho" and "client app" in record["author"]["display"]
    ext = {e["url"].rsplit("-", 1)[1]: next(v for k, v in e.items() if k.startswith("value"))
           for e in record["extension"]}
    assert ext["reason"] == "unconscious in A&E" and ext["time"].startswith(record["created"])
    assert ext["request"] == "GET /fhir/Patient/alice" and ext["status"] == "200"

    replay = (await secured.client.get(f"/fhir/Subscription/{sub}/$events", headers=watcher)).json()
    assert [e["fullUrl"] for e in replay["entry"][1:]] == [got[0]["entry"][1]["fullUrl"]], "durable: $events has it"
    forged = {k: v for k, v in record.items() if k not in ("id", "meta")}
    r = await secured.client.post("/fhir/Basic", headers=writer, json=forged)
    assert r.status_code == 403, "a client cannot forge a break-glass record"
    assert "written by the server only" in r.text


async def test_the_break_glass_topic_is_advertised(secured: Secured) -> None:
    topics = advertised_topics((await secured.client.get("/fhir/metadata")).json())
    assert f"{BASE}/SubscriptionTopic/break-glass-access" in topics
