"""Our notification Bundles, `$status` answers and Subscription checks against the examples of the
Subscriptions R5 Backport IG (../shared/testsuites/subscriptions-backport/), element by element."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from caregate.errors import FhirError
from caregate.search.registry import default_registry
from caregate.subscriptions import bundles
from caregate.subscriptions.events import Event
from caregate.subscriptions.model import check, read_spec
from caregate.subscriptions.topics import TopicCatalog
from tests.subscriptions.conftest import BASE

TOPIC = f"{BASE}/SubscriptionTopic/encounter-admission"
EVENT = Event(1, 10, "Encounter", "86009987", 1, "create", "2020-05-29T11:44:13.188Z")
ENCOUNTER = {"resourceType": "Encounter", "id": "86009987", "status": "in-progress",
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"}}


@pytest.fixture
def examples(shared_dir: Path) -> Path:
    return shared_dir / "testsuites" / "subscriptions-backport"


def _load(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text())


def _shape(node: Any) -> Any:
    """The structure of a FHIR JSON value: keys and element types, ids, times and URLs left out."""
    if isinstance(node, dict):
        return {k: _shape(v) for k, v in node.items() if k not in ("id", "timestamp", "fullUrl", "text")}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return type(node).__name__


def _parameters(bundle: dict) -> list[tuple[str, Any]]:
    return [(p["name"], _shape({k: v for k, v in p.items() if k != "name"}))
            for p in bundle["entry"][0]["resource"]["parameter"]]


@pytest.mark.parametrize(("example", "kind", "content", "events"), [
    ("handshake_bundle_example.json", "handshake", "id-only", 0),
    ("heartbeat_bundle_example.json", "heartbeat", "id-only", 0),
    ("empty_notification_bundle_example.json", "event-notification", "empty", 1),
    ("id_only_notification_bundle_example.json", "event-notification", "id-only", 1),
    ("full_resource_notification_bundle_example.json", "event-notification", "full-resource", 1),
])
def test_notifications_have_the_shape_of_the_ig_examples(examples: Path, example: str, kind: str, content: str,
                                                         events: int) -> None:
    theirs = _load(examples, example)
    status = "requested" if kind == "handshake" else "active"
    total = int(next(p["valueString"] for p in theirs["entry"][0]["resource"]["parameter"]
                     if p["name"] == "events-since-subscription-start"))
    ours = bundles.notification(BASE, "123", TOPIC, status, kind, total, [EVENT] * events, content,
                                [ENCOUNTER] * events)
    assert ours["meta"] == theirs["meta"] and ours["type"] == theirs["type"] == "history"
    assert _parameters(ours) == _parameters(theirs)
    assert _shape(ours["entry"][0]["request"]) == _shape(theirs["entry"][0]["request"])
    assert ours["entry"][0]["request"]["url"] == f"{BASE}/Subscription/123/$status"
    assert ours["entry"][0]["response"] == theirs["entry"][0]["response"]
    assert len(ours["entry"]) == len(theirs["entry"])
    for mine, example_entry in zip(ours["entry"][1:], theirs["entry"][1:], strict=True):
        assert mine["request"] == example_entry["request"] == {"method": "POST", "url": "Encounter"}
        assert mine["response"]["status"] == example_entry["response"]["status"] == "201"
        assert ("resource" in mine) == ("resource" in example_entry) == (content == "full-resource")
        assert mine["fullUrl"] == f"{BASE}/Encounter/86009987"


def test_status_answers_have_the_shape_of_the_ig_example(examples: Path) -> None:
    theirs = _load(examples, "subscription_status_example.json")
    params = bundles.status_parameters(BASE, "123", TOPIC, "active", "query-status", 2)
    ours = bundles.status_bundle(BASE, [("123", params)])
    assert ours["type"] == theirs["type"] == "searchset" and ours["total"] == theirs["total"] == 1
    assert ours["entry"][0]["resource"]["meta"] == theirs["entry"][0]["resource"]["meta"]
    names = [p["name"] for p in params["parameter"]]
    assert names == ["subscription", "topic", "status", "type", "events-since-subscription-start"]


@pytest.mark.parametrize("example", ["Subscription_empty.json", "Subscription_id-only.json",
                                     "Subscription_full-resource.json", "subscription_resource_example.json"])
def test_the_ig_subscriptions_are_read_and_checked(examples: Path, example: str) -> None:
    catalog = TopicCatalog(default_registry(), BASE)
    theirs = _load(examples, example)
    ours = {**theirs, "criteria": TOPIC}
    spec = read_spec(ours, catalog)
    assert spec.topic is not None and spec.topic.name == "encounter-admission"
    assert spec.content == theirs["channel"]["_payload"]["extension"][0]["valueCode"]
    assert all(f.startswith(("Encounter", "patient")) for f in spec.filters)
    with pytest.raises(FhirError) as refused:  # plain HTTP to a remote host, or a channel type of their own
        check(ours, catalog)
    custom = "_type" in theirs["channel"]
    assert refused.value.expression == ("Subscription.channel.type" if custom else "Subscription.channel.endpoint",)
    if custom:
        assert "zulip" in refused.value.message
        return
    check({**ours, "channel": {**ours["channel"], "endpoint": "https://hooks.example.org/notify"}}, catalog)
    with pytest.raises(FhirError) as unknown:  # the IG's own topic is not one this server defines
        check({**theirs, "channel": {**ours["channel"], "endpoint": "https://hooks.example.org/notify"}}, catalog)
    assert unknown.value.expression == ("Subscription.criteria",)


@pytest.mark.parametrize(("change", "where"), [
    ({"reason": None}, "Subscription.reason"),
    ({"end": "next tuesday"}, "Subscription.end"),
    ({"channel": {"type": "rest-hook", "endpoint": "https://h.example/x", "payload": "application/fhir+xml"}},
     "Subscription.channel.payload"),
    ({"channel": {"type": "rest-hook", "endpoint": "https://h.example/x", "extension": [
        {"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-max-count",
         "valuePositiveInt": 0}]}},
     "Subscription.channel.extension('http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
     "backport-max-count')"),
])
def test_what_r4_and_the_profile_require(change: dict, where: str) -> None:
    from tests.subscriptions.conftest import subscription

    catalog = TopicCatalog(default_registry(), BASE)
    body = {**subscription("allergy-new", endpoint="https://h.example/x"), **change}
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(FhirError) as refused:
        check(body, catalog)
    found = [refused.value.expression, *(i.expression for i in refused.value.extra)]
    assert (where,) in found
