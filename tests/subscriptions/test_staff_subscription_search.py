"""A member of staff bound by relationships searches only their own Subscriptions: others' would tell who
subscribes and criteria naming patients. Totals count theirs alone; type history is refused; a search across
types leaves others' out. Real tokens, both engines."""

from __future__ import annotations

import pytest

from tests.subscriptions.test_access import Secured, secured  # noqa: F401
from tests.subscriptions.test_staff_subscriptions import _doctor, _subscribe

pytestmark = pytest.mark.anyio


async def test_staff_search_reaches_their_own_subscriptions_only(secured: Secured) -> None:  # noqa: F811
    doctor = await _doctor(secured)
    backend = secured.headers("system/*.cruds")
    theirs = await _subscribe(secured, backend, channel="websocket")
    r = await secured.client.get("/fhir/Subscription", headers=doctor)
    assert r.status_code == 200 and r.json()["total"] == 0 and not r.json().get("entry")
    mine = await _subscribe(secured, doctor, channel="websocket")
    r = await secured.client.get("/fhir/Subscription", headers=doctor, params={"status": "requested,active"})
    body = r.json()
    assert body["total"] == 1 and [e["resource"]["id"] for e in body["entry"]] == [mine]
    r = await secured.client.get("/fhir/Subscription", headers=doctor, params={"_id": theirs})
    assert r.json()["total"] == 0
    r = await secured.client.get("/fhir", headers=doctor, params={"_type": "Subscription"})
    assert [e["resource"]["id"] for e in r.json().get("entry", [])] == [mine]
    r = await secured.client.get("/fhir", headers=doctor, params={"_type": "Subscription,Patient", "_count": "100"})
    assert theirs not in {e["resource"]["id"] for e in r.json().get("entry", [])}
    for history in ("/fhir/Subscription/_history", "/fhir/_history"):
        r = await secured.client.get(history, headers=doctor)
        assert r.status_code == 403, history
    r = await secured.client.get("/fhir/Patient/_history", headers=doctor)  # other types' history is as before
    assert r.status_code == 200
    r = await secured.client.get("/fhir/Subscription", headers=backend)  # a backend service is bound by scopes
    assert r.json()["total"] == 2
