"""Redaction on the way out: elements a role may not see are removed from labelled resources, and the resource
is marked REDACTED (https://hl7.org/fhir/R4/security-labels.html, v3-ObservationValue#REDACTED).

A restricted patient (a Patient labelled R, as PDS flags one) keeps their address, telecom and GP from roles
the policy does not allow to see them; the policy (policy/rules.py) names the elements per label and type.
Resources a role may not see at all are withheld in SQL instead (interactions/guard.py `hidden`). The step
runs on read, vread, search (matches and includes) and history; stored JSON without a `security` label is
passed on untouched, so the common path parses nothing.

Whatever the labels, a Subscription's `channel.header` (the endpoint's credentials) is shown to its owner alone.
"""

from __future__ import annotations

from dataclasses import replace

import orjson

from caregate.interactions.context import RequestContext
from caregate.interactions.owner import read_owner
from caregate.policy.sensitivity import REDACTED, REDACTED_SYSTEM
from caregate.storage.base import Page, Stored


def redact(ctx: RequestContext, s: Stored) -> Stored:
    """`s` with the elements its labels withhold from this request removed (itself when nothing is)."""
    if s.type == "Subscription" and ctx.actor is not None and not s.deleted and b'"header"' in s.json:
        s = _channel_headers(ctx, s)
    if ctx.policy is None or s.deleted or b'"security"' not in s.json:
        return s
    rules = ctx.policy.sight(ctx.actor, ctx.purpose).redact
    wanted = [(label, by_type[s.type]) for label, by_type in rules if s.type in by_type]
    if not wanted:
        return s
    resource = orjson.loads(s.json)
    security = (resource.get("meta") or {}).get("security") or []
    labels = {(c.get("system"), c.get("code")) for c in security if isinstance(c, dict)}
    removed = False
    for label, elements in wanted:
        if label in labels:
            for name in elements:
                removed = resource.pop(name, None) is not None or removed
    if not removed:
        return s
    if not any(c.get("system") == REDACTED_SYSTEM and c.get("code") == "REDACTED" for c in security
               if isinstance(c, dict)):
        resource["meta"]["security"] = [*security, dict(REDACTED)]
    return replace(s, json=orjson.dumps(resource))


def drop_others_secrets(ctx: RequestContext, resource: dict) -> bool:
    """A Subscription's `channel.header` carries what its endpoint needs to accept notifications, often a secret
    (`Authorization: Bearer ...`): only the owner that wrote it (the same user through the same client) reads it
    back, or patches a version that keeps it. Removes it from `resource` for anyone else; True if it did."""
    channel = resource.get("channel")
    if ctx.actor is None or resource.get("resourceType") != "Subscription" or not isinstance(channel, dict) \
            or "header" not in channel:
        return False
    owner = read_owner(resource)
    if owner is not None and (owner[0].subject, owner[0].client_id) == (ctx.actor.subject, ctx.actor.client_id):
        return False
    del channel["header"]
    return True


def _channel_headers(ctx: RequestContext, s: Stored) -> Stored:
    """The Subscription without another owner's endpoint credentials, marked REDACTED."""
    resource = orjson.loads(s.json)
    if not drop_others_secrets(ctx, resource):
        return s
    meta = resource.setdefault("meta", {})
    security = meta.get("security") if isinstance(meta.get("security"), list) else []
    meta["security"] = [*security, dict(REDACTED)]
    return replace(s, json=orjson.dumps(resource))


def redact_page(ctx: RequestContext, page: Page) -> Page:
    """Redact a search or history page in place: its matches and its included resources."""
    labels = ctx.policy is not None and bool(ctx.policy.sight(ctx.actor, ctx.purpose).redact)
    if labels or (ctx.actor is not None and any(s.type == "Subscription" for s in (*page.items, *page.included))):
        page.items = [redact(ctx, s) for s in page.items]
        page.included = [redact(ctx, s) for s in page.included]
    return page
