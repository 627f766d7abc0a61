"""A Subscription's `channel.header` (its endpoint's credentials) is read back by its owner alone: another
client reading, searching, paging its history or patching it never sees the secret, with real tokens on both
engines."""

from __future__ import annotations

import pytest

from tests.subscriptions.conftest import subscription
from tests.subscriptions.test_access import BASE, Secured, secured  # noqa: F401

pytestmark = pytest.mark.anyio
SECRET = "Authorization: Bearer s3cret-for-the-receiver"
REDACTED = ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "REDACTED")


def _other(s: Secured) -> dict[str, str]:
    if s.auth.clients.get("other") is None:
        s.auth.clients.add("Other app", "system/*.cruds", client_id="other")
    return {"Authorization": f"Bearer {s.auth.issue('other', 'system/*.cruds')[0]}"}


def _secret_in(body: object) -> bool:
    return "s3cret" in str(body)


async def test_only_the_owner_reads_the_endpoint_credentials(secured: Secured) -> None:  # noqa: F811
    owner = secured.headers("system/*.cruds")
    r = await secured.client.post("/fhir/Subscription", headers=owner, json=subscription(
        "lab-result", endpoint="https://receiver.invalid/hook", headers=(SECRET,), base=BASE))
    assert r.status_code == 201, r.text
    sub = r.json()["id"]
    assert r.json()["channel"]["header"] == [SECRET]  # the writer sees what it wrote

    mine = (await secured.client.get(f"/fhir/Subscription/{sub}", headers=owner)).json()
    assert mine["channel"]["header"] == [SECRET]

    other = _other(secured)
    theirs = (await secured.client.get(f"/fhir/Subscription/{sub}", headers=other)).json()
    assert "header" not in theirs["channel"]
    assert REDACTED in [(c["system"], c["code"]) for c in theirs["meta"]["security"]]
    assert theirs["channel"]["endpoint"] == "https://receiver.invalid/hook"  # the rest is as stored
    for path in (f"/fhir/Subscription?_id={sub}", f"/fhir/Subscription/{sub}/_history",
                 f"/fhir/Subscription/{sub}/_history/1", "/fhir/Subscription/_history"):
        r = await secured.client.get(path, headers=other)
        assert r.status_code == 200 and not _secret_in(r.json()), path
    r = await secured.client.get(f"/fhir/Subscription?_id={sub}", headers=owner)
    assert _secret_in(r.json())


async def test_a_patch_by_another_client_does_not_carry_the_secret_over(secured: Secured) -> None:  # noqa: F811
    owner = secured.headers("system/*.cruds")
    r = await secured.client.post("/fhir/Subscription", headers=owner, json=subscription(
        "lab-result", endpoint="https://receiver.invalid/hook", headers=(SECRET,), base=BASE))
    sub = r.json()["id"]
    r = await secured.client.patch(f"/fhir/Subscription/{sub}", headers={
        **_other(secured), "Content-Type": "application/json-patch+json"},
        json=[{"op": "replace", "path": "/reason", "value": "taken over"}])
    assert r.status_code == 200, r.text
    assert not _secret_in(r.json())
    stored = (await secured.client.get(f"/fhir/Subscription/{sub}", headers=owner)).json()
    assert stored["reason"] == "taken over" and not _secret_in(stored)  # the patcher owns it now, without it
