"""What every interaction receives: the store, the search registry, the base URL and request preferences."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from caregate.policy import Actor
from caregate.policy.rules import Policy
from caregate.search.registry import Registry
from caregate.storage.base import Notes, ResourceStore, Stored


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(slots=True)
class RequestContext:
    store: ResourceStore
    registry: Registry
    base_url: str
    strict: bool = False  # Prefer: handling=strict
    page_default: int = 20
    page_max: int = 1000
    ids: Callable[[], str] = new_id
    actor: Actor | None = None  # who asks; None when the server runs without authentication
    validation: str = "lenient"  # strict | lenient | off: how writes are validated (interactions/validation.py)
    purpose: str = "TREAT"  # the request's v3 PurposeOfUse (policy/purpose.py)
    policy: Policy | None = None  # the access policy's roles and labels (policy/rules.py); None: scopes alone
    notes: Notes | None = None  # outbox notes the request's write commits with it (storage/outbox.py)
    # Rules of components wired in above this layer for resources a client writes, however written (on its own,
    # in a Bundle, by patch): the Subscriptions service refuses (422) a Subscription it could never serve.
    write_check: Callable[[dict], None] | None = None


@dataclass(slots=True)
class Result:
    """An interaction's answer: the stored version it concerns, or a body built for the response."""

    stored: Stored | None = None
    body: dict | None = None
    created: bool = False
    status: int | None = None  # FHIR http.html response code when not implied (e.g. 200 on no-op delete)
    warnings: list = field(default_factory=list)
