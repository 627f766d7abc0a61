"""The realtime suite: a rest-hook Subscription delivers to a receiver the checker runs on this machine.

R4 servers use either the base Subscription (criteria is a search: https://hl7.org/fhir/R4/subscription.html) or
the Subscriptions R5 Backport (criteria is a topic canonical). The checker uses the topic form when the
CapabilityStatement advertises topics it knows how to trigger, else the base form.
"""

from __future__ import annotations

from typing import Any

from caregate.check.client import body_json
from caregate.check.context import CheckContext
from caregate.check.model import check, skip
from caregate.check.receiver import Receiver
from caregate.check.registry import R4, test
from caregate.check.samples import allergy, encounter, observation

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/"
SD = BACKPORT + "StructureDefinition/"
TOPIC_EXT = SD + "capabilitystatement-subscriptiontopic-canonical"
LAB = {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}


def _trigger_for(topic: str):
    """A write that fires a topic the checker knows, by the topic's name."""
    name = topic.rstrip("/").split("/")[-1].split("|")[0]

    def admission(ctx: CheckContext) -> None:
        ctx.create("Encounter", encounter(ctx.run_id, {"Patient": ctx.sample("Patient")["id"]})
                   | {"status": "in-progress"})

    def lab(ctx: CheckContext) -> None:
        ctx.create("Observation", observation(ctx.run_id, {"Patient": ctx.sample("Patient")["id"]})
                   | {"category": [{"coding": [LAB]}]})

    def allergy_new(ctx: CheckContext) -> None:
        ctx.create("AllergyIntolerance", allergy(ctx.run_id, {"Patient": ctx.sample("Patient")["id"]}))

    return {"encounter-admission": admission, "lab-result": lab, "allergy-new": allergy_new}.get(name)


def _topics(ctx: CheckContext) -> list[str]:
    sub = ctx.cap.resource("Subscription")
    return [e.get("valueCanonical") for e in sub.get("extension") or []
            if e.get("url") == TOPIC_EXT and e.get("valueCanonical")]


def _subscription(ctx: CheckContext, endpoint: str) -> tuple[dict[str, Any], Any]:
    for topic in _topics(ctx):
        trigger = _trigger_for(topic)
        if trigger:
            return {"resourceType": "Subscription", "meta": {"profile": [SD + "backport-subscription"]},
                    "status": "requested", "reason": "caregate check", "criteria": topic,
                    "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
                                "_payload": {"extension": [{"url": SD + "backport-payload-content",
                                                            "valueCode": "id-only"}]}}}, trigger
    if _topics(ctx):
        skip(f"the server's topics are not ones the checker can trigger: {', '.join(_topics(ctx))}")
    ident = f"rt-{ctx.run_id}"

    def write(ctx: CheckContext) -> None:
        ctx.create("Observation", observation(ctx.run_id, {"Patient": ctx.sample("Patient")["id"]})
                   | {"identifier": [{"system": "https://example.org/caregate-check", "value": ident}]})

    return {"resourceType": "Subscription", "status": "requested", "reason": "caregate check",
            "criteria": f"Observation?identifier=https://example.org/caregate-check|{ident}",
            "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json"}}, write


def _is_handshake(body: Any) -> bool:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return False
    first = ((body.get("entry") or [{}])[0].get("resource") or {})
    return any(p.get("name") == "type" and p.get("valueCode") in ("handshake", "heartbeat")
               for p in first.get("parameter") or [])


def _declared(cap) -> bool:
    return cap.declares_subscriptions()


@test("realtime.rest-hook", "A rest-hook subscription delivers notifications",
      "A server declaring Subscription SHALL notify the channel endpoint when a matching change happens "
      "(rest-hook: an HTTP POST to the endpoint). The checker runs the endpoint on this machine; when the server "
      "cannot reach it the test is skipped.", R4 + "subscription.html#2.46.7.1",
      mandatory=_declared, writes=True)
def rest_hook(ctx: CheckContext) -> str:
    if not ctx.cap.declares_subscriptions():
        skip("Subscription is not declared")
    receiver = Receiver(ctx.receiver_host)
    try:
        body, trigger = _subscription(ctx, receiver.url)
        sub = ctx.create("Subscription", body)
        ctx.notes["subscription"] = sub["id"]
        receiver.wait(_is_handshake_entry, 5)
        trigger(ctx)
        delivered = receiver.wait(lambda r: not _is_handshake(r["body"]), 20)
        if not delivered:
            state = body_json(ctx.client.get(f"Subscription/{sub['id']}")) or {}
            if not receiver.received and state.get("status") == "error":
                skip(f"the server could not reach the receiver at {receiver.url} (status error): "
                     f"{state.get('error', '')}")
            check(False, f"no notification within 20 s of a matching change ({len(receiver.received)} handshake "
                         f"or heartbeat messages; subscription status {state.get('status')!r})")
        return f"notified at {receiver.url}"
    finally:
        receiver.close()


def _is_handshake_entry(received: dict) -> bool:
    return _is_handshake(received["body"])


@test("realtime.status", "A subscription's status can be read",
      "With the Subscriptions Backport, GET [base]/Subscription/[id]/$status SHALL return a Bundle whose first "
      "entry is the SubscriptionStatus Parameters.",
      "https://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition-backport-subscription-status.html",
      mandatory=lambda cap: "status" in cap.type_operations("Subscription"), writes=True)
def status(ctx: CheckContext) -> str:
    if "status" not in ctx.cap.type_operations("Subscription"):
        skip("$status is not declared")
    sid = ctx.notes.get("subscription")
    if not sid:
        skip("no subscription was created")
    r = ctx.client.get(f"Subscription/{sid}/$status")
    bundle = body_json(r) or {}
    check(r.status_code == 200 and bundle.get("resourceType") == "Bundle", f"answered {r.status_code}")
    first = ((bundle.get("entry") or [{}])[0].get("resource") or {})
    names = {p.get("name") for p in first.get("parameter") or []}
    check(first.get("resourceType") == "Parameters" and {"subscription", "status", "type"} <= names,
          f"the first entry is not SubscriptionStatus Parameters (has {sorted(n for n in names if n)})")
    return "SubscriptionStatus returned"
