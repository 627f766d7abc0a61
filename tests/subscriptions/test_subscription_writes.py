"""A Subscription the server could never serve is refused (422) however it is written: on its own, inside a
transaction or batch Bundle (located at the entry), or by a patch that would break it. Both engines."""

from __future__ import annotations

import pytest

from tests.subscriptions.conftest import Live, live, subscription  # noqa: F401

pytestmark = pytest.mark.anyio
UNKNOWN = {**subscription("nope", channel="websocket")}
PATCH = "application/json-patch+json"


async def test_bundles_cannot_slip_in_a_subscription_the_server_cannot_serve(live: Live) -> None:  # noqa: F811
    c = live.client
    entry = {"request": {"method": "POST", "url": "Subscription"}, "resource": UNKNOWN}
    r = await c.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": [entry]})
    assert r.status_code == 422, r.text
    issue = r.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[0].resource.criteria"] and "encounter-admission" in r.text
    r = await c.post("/fhir", json={"resourceType": "Bundle", "type": "batch", "entry": [entry]})
    assert r.json()["entry"][0]["response"]["status"].startswith("422")
    assert (await c.get("/fhir/Subscription")).json().get("total") == 0


async def test_a_patch_cannot_break_a_subscription(live: Live) -> None:  # noqa: F811
    c = live.client
    r = await c.post("/fhir/Subscription", json=subscription("allergy-new", channel="websocket"))
    assert r.status_code == 201, r.text
    sub = r.json()["id"]
    r = await c.patch(f"/fhir/Subscription/{sub}", headers={"Content-Type": PATCH},
                      json=[{"op": "replace", "path": "/criteria", "value": UNKNOWN["criteria"]}])
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Subscription.criteria"]
    assert (await c.get(f"/fhir/Subscription/{sub}")).json()["meta"]["versionId"] == "1"
