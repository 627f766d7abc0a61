"""Runtime state kept as FHIR data in the store itself: no tables of our own (storage owns the schema).

- `Subscription.status` and `Subscription.error` (R4) are written back as the channel's health changes
  (`requested` -> `active` after the handshake, `error` after repeated failure, `active` again on recovery;
  http://hl7.org/fhir/uv/subscriptions-backport/components.html#subscription-status). Writes carry
  `If-Match` so a client's own edit is never overwritten.
- A `Basic` resource per rest-hook subscription checkpoints how many events were delivered, so a new
  dispatcher (after a crash, or in another worker) resumes there instead of at the start (at-least-once).
- A `Basic` resource per websocket binding token holds the token's SHA-256, its subscriptions and expiry,
  so any worker can redeem a token another issued (`$get-ws-binding-token`); the token itself is not stored.

These Basic resources carry the code system `https://caregate.invalid/fhir/CodeSystem/subscription-runtime`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import orjson

from caregate.clock import instant
from caregate.errors import FhirError
from caregate.interactions.owner import RUNTIME
from caregate.storage.base import ResourceStore, Write

SYSTEM = RUNTIME  # clients cannot write these records (interactions/owner.py)
EXT = "https://caregate.invalid/fhir/StructureDefinition/"


def _basic(id_: str, code: str, extensions: list[dict], subject: str | None = None) -> dict:
    body: dict = {"resourceType": "Basic", "id": id_, "code": {"coding": [{"system": SYSTEM, "code": code}]},
                  "extension": extensions}
    if subject:
        body["subject"] = {"reference": subject}
    return body


def _values(body: dict) -> dict[str, list]:
    out: dict[str, list] = {}
    for ext in body.get("extension") or ():
        url = str(ext.get("url", "")).removeprefix(EXT)
        out.setdefault(url, []).append(next((v for k, v in ext.items() if k.startswith("value")), None))
    return out


def checkpoint_id(sub_id: str) -> str:
    short = sub_id if len(sub_id) <= 52 else hashlib.sha256(sub_id.encode()).hexdigest()[:52]
    return f"subdelivery-{short}"


async def load_checkpoint(store: ResourceStore, sub_id: str) -> tuple[int, int] | None:
    """(`t` the subscription's count started at, events delivered), or None when never saved."""
    stored = await store.read("Basic", checkpoint_id(sub_id))
    if stored is None or stored.deleted:
        return None
    values = _values(orjson.loads(stored.json))
    try:
        return int(values["count-start"][0]), int(values["delivered"][0])
    except (KeyError, TypeError, ValueError):
        return None


async def save_checkpoint(store: ResourceStore, sub_id: str, start_t: int, delivered: int) -> None:
    body = _basic(checkpoint_id(sub_id), "subscription-delivery",
                  [{"url": EXT + "count-start", "valueString": str(start_t)},
                   {"url": EXT + "delivered", "valueString": str(delivered)}], f"Subscription/{sub_id}")
    await store.transact([Write("update", "Basic", body["id"], body)])


async def drop_checkpoint(store: ResourceStore, sub_id: str) -> None:
    await store.transact([Write("delete", "Basic", checkpoint_id(sub_id))])


async def set_status(store: ResourceStore, sub_id: str, status: str, error: str | None = None) -> bool:
    """Write `Subscription.status` (and `error`) when they differ; False if the subscription is gone or a
    concurrent edit won (the caller sees the new version through the log and decides again)."""
    stored = await store.read("Subscription", sub_id)
    if stored is None or stored.deleted:
        return False
    body = orjson.loads(stored.json)
    if body.get("status") == status and body.get("error") == error:
        return True
    body["status"] = status
    if error:
        body["error"] = error
    else:
        body.pop("error", None)
    try:
        await store.transact([Write("update", "Subscription", sub_id, body, if_match=stored.version,
                                    must_exist=True)])
    except FhirError:
        return False
    return True


async def set_statuses(store: ResourceStore, sub_ids: list[str], status: str) -> None:
    """`set_status` for many subscriptions in one transaction (binding thousands over one websocket); one by
    one if a concurrent edit makes the batch fail."""
    writes = []
    for sub_id in sub_ids:
        stored = await store.read("Subscription", sub_id)
        if stored is None or stored.deleted:
            continue
        body = orjson.loads(stored.json)
        if body.get("status") != status:
            body["status"] = status
            body.pop("error", None)
            writes.append(Write("update", "Subscription", sub_id, body, if_match=stored.version, must_exist=True))
    if not writes:
        return
    try:
        await store.transact(writes)
    except FhirError:
        for write in writes:
            await set_status(store, write.id, status)


def _token_id(token: str) -> str:
    return "wsbinding-" + hashlib.sha256(token.encode()).hexdigest()[:54]


async def issue_token(store: ResourceStore, sub_ids: list[str], seconds: int) -> tuple[str, str]:
    """A new random binding token for `sub_ids`, valid for `seconds`; returns (token, expiry instant)."""
    token = secrets.token_urlsafe(32)
    expires = instant(datetime.now(UTC) + timedelta(seconds=seconds))
    extensions = [{"url": EXT + "binding-subscription", "valueReference": {"reference": f"Subscription/{s}"}}
                  for s in sub_ids]
    extensions.append({"url": EXT + "binding-expires", "valueInstant": expires})
    body = _basic(_token_id(token), "websocket-binding", extensions)
    await store.transact([Write("update", "Basic", body["id"], body)])
    return token, expires


async def redeem_token(store: ResourceStore, token: str) -> list[str] | None:
    """The subscription ids a binding token grants, or None when it is unknown or expired."""
    if not token or len(token) > 200:
        return None
    stored = await store.read("Basic", _token_id(token))
    if stored is None or stored.deleted:
        return None
    values = _values(orjson.loads(stored.json))
    try:
        expires = datetime.fromisoformat(str(values["binding-expires"][0]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    if expires <= datetime.now(UTC):
        await store.transact([Write("delete", "Basic", stored.id)])
        return None
    refs = [v.get("reference", "") for v in values.get("binding-subscription", []) if isinstance(v, dict)]
    return [r.removeprefix("Subscription/") for r in refs if r.startswith("Subscription/")]
