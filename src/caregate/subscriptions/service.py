"""The subscriptions service of one worker process: follow the log, deliver, answer the operations.

Every worker runs the same loop: catch up with the change log (`EventIndex`), try to hold the dispatcher
lease (`lease`), and while holding it run the rest-hook couriers (`Dispatcher`). Websocket sessions are
served by the worker holding the connection. The operations of the Subscriptions R5 Backport IG are
plain methods returning FHIR JSON, for the web layer and the command line alike:

- `$status` (http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition-backport-subscription-status.html)
- `$events` (http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition-backport-subscription-events.html)
- `$get-ws-binding-token`
  (http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition-backport-subscription-get-ws-binding-token.html)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import orjson

from caregate.errors import FhirError, incorrect
from caregate.policy import Actor
from caregate.policy.rules import Policy as Rules
from caregate.search.registry import Registry
from caregate.storage.base import ResourceStore
from caregate.subscriptions import breakglass, bundles, http, model, state
from caregate.subscriptions.audited import Recorder
from caregate.subscriptions.delivery import Dispatcher, Policy, focus_resources
from caregate.subscriptions.events import EventIndex, Tracked
from caregate.subscriptions.lease import Lease, lease_for
from caregate.subscriptions.topics import TopicCatalog
from caregate.subscriptions.websocket import Send, WsSession

log = logging.getLogger("caregate.subscriptions")
WS_PATH = "$subscription-ws"


class SubscriptionService:
    def __init__(self, store: ResourceStore, registry: Registry, base_url: str, database_url: str = "", *,
                 policy: Policy | None = None, lease: Lease | None = None, rules: Rules | None = None,
                 audit: Recorder | None = None) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.catalog = TopicCatalog(registry, self.base_url)
        self.policy = policy or Policy()
        self.index = EventIndex(store, self.catalog, rules=rules)  # `rules`: the access policy (policy/rules.py)
        self.lease = lease or lease_for(database_url)
        self.dispatcher = Dispatcher(self.index, self.base_url, self.policy)
        self.audit = self.dispatcher.audit = audit  # notifications carrying events are audited (audited.py)
        self.leader = False
        self._task: asyncio.Task | None = None

    def tune(self, policy: Policy) -> None:
        """Change timings before `start()` (tests shorten backoff and polling)."""
        self.policy = self.dispatcher.policy = policy

    # -- background ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.dispatcher.stop()
        await self.lease.release()
        await self.index.close()
        self.leader = False

    async def _run(self) -> None:
        next_lease = 0.0
        while True:
            try:
                await self.index.catch_up()
                if time.monotonic() >= next_lease:
                    was = self.leader
                    self.leader = await self.lease.acquire()
                    next_lease = time.monotonic() + self.policy.lease_seconds
                    if self.leader != was:
                        log.info("subscription dispatcher lease " + ("taken" if self.leader else "lost"))
                        if not self.leader:
                            await self.dispatcher.stop()
                if self.leader:
                    self.dispatcher.sync()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("subscriptions loop failed; retrying")
                await asyncio.sleep(self.policy.poll_seconds)
            await self.index.wait(self.policy.poll_seconds)  # a commit wakes it at once (NOTIFY or in-process)

    # -- operations ----------------------------------------------------------------------------------------
    def check(self, resource: object) -> None:
        """Validate a Subscription a client writes (422 naming the problem)."""
        model.check(resource, self.catalog)

    async def _tracked(self, sub_id: str, owner: str | None = None) -> Tracked:
        """The subscription `sub_id`; with `owner`, only one that subject owns (another answers 404, as absent)."""
        await self.index.catch_up()
        tracked = self.index.subs.get(sub_id)
        if tracked is not None and not _owned(tracked, owner):
            raise FhirError("not-found", f"Subscription/{sub_id} is not known.")
        if tracked is None:
            stored = await self.store.read("Subscription", sub_id)
            if stored is not None and stored.deleted:
                raise FhirError("gone", f"Subscription/{sub_id} has been deleted.")
            raise FhirError("not-found", f"Subscription/{sub_id} is not known.")
        return tracked

    def _status_parameters(self, tracked: Tracked) -> dict:
        spec = tracked.spec
        errors = [e for e in (spec.problem, spec.error if spec.status == "error" else None) if e]
        return bundles.status_parameters(self.base_url, spec.id, spec.topic_url, spec.status, "query-status",
                                         tracked.count, errors=errors)

    async def status(self, ids: list[str] | None = None, statuses: list[str] | None = None,
                     owner: str | None = None) -> dict:
        """`$status`: one Parameters per subscription (all, when no ids are given), optionally by status;
        with `owner`, only the subscriptions that subject owns."""
        if ids:
            tracked = [await self._tracked(i, owner) for i in ids]
        else:
            await self.index.catch_up()
            tracked = sorted((s for s in self.index.subs.values() if _owned(s, owner)), key=lambda s: s.spec.id)
        found = [(t.spec.id, self._status_parameters(t)) for t in tracked
                 if not statuses or t.spec.status in statuses]
        return bundles.status_bundle(self.base_url, found)

    async def events(self, sub_id: str, since: str | None = None, until: str | None = None,
                     content: str | None = None, owner: str | None = None) -> dict:
        """`$events`: the notification Bundle (type `query-event`) of events `since`..`until`, inclusive, that
        the owner may read now; with `owner`, only of a subscription that subject owns."""
        tracked = await self._tracked(sub_id, owner)
        total = tracked.count
        low, high = _number(since, "eventsSinceNumber", 1), _number(until, "eventsUntilNumber", total)
        if content is not None and content not in model.CONTENTS:
            raise incorrect(f"content must be one of {', '.join(model.CONTENTS)}, not {content!r}.", "content")
        chosen = content or tracked.spec.content
        low = max(low, 1)
        high = min(high, total, low + self.policy.events_page - 1)
        events = await self.index.readable(tracked, await self.index.events(tracked, low, high))
        resources = await focus_resources(self.store, events, chosen)
        return bundles.notification(self.base_url, sub_id, tracked.spec.topic_url, tracked.spec.status,
                                    "query-event", total, events, chosen, resources)

    async def binding_token(self, ids: list[str], owner: str | None = None) -> dict:
        """`$get-ws-binding-token` for websocket subscriptions: a token, its expiry and the websocket URL; with
        `owner`, only for subscriptions that subject owns."""
        if not ids:
            raise incorrect("Name the subscriptions to bind with the id parameter.", "id")
        await self.index.catch_up()
        for sub_id in ids:
            tracked = await self._tracked(sub_id, owner)
            if tracked.spec.channel != "websocket":
                raise FhirError("invalid", f"Subscription/{sub_id} uses the {tracked.spec.channel or 'no'} channel; "
                                           "binding tokens are for websocket subscriptions.", ("id",))
        token, expires = await state.issue_token(self.store, ids, self.policy.token_seconds)
        params = [{"name": "token", "valueString": token}, {"name": "expiration", "valueDateTime": expires}]
        params += [{"name": "subscription", "valueString": i} for i in ids]
        params.append({"name": "websocket-url", "valueUrl": self.websocket_url})
        return {"resourceType": "Parameters", "parameter": params}

    async def redeliver(self, sub_id: str, since: str | None = None, until: str | None = None) -> int:
        """POST past events again to a rest-hook endpoint, as event notifications (at-least-once makes a
        repeat harmless: the receiver knows each event by its number). Returns how many were sent."""
        tracked = await self._tracked(sub_id)
        spec = tracked.spec
        if spec.channel != "rest-hook" or spec.problem:
            raise FhirError("invalid", f"Subscription/{sub_id} has no usable rest-hook endpoint"
                                       f"{': ' + spec.problem if spec.problem else ''}.")
        total = tracked.count
        low, high = max(_number(since, "since", 1), 1), min(_number(until, "until", total), total)
        limit = spec.max_count or self.policy.max_count
        sent = 0
        for first in range(low, high + 1, limit):
            events = await self.index.readable(tracked, await self.index.events(tracked, first,
                                                                                min(first + limit - 1, high)))
            if not events:
                continue
            resources = await focus_resources(self.store, events, spec.content)
            body = bundles.notification(self.base_url, sub_id, spec.topic_url, spec.status, "event-notification",
                                        total, events, spec.content, resources)
            try:
                await http.post(spec.endpoint, orjson.dumps(body), spec.headers,
                                min(spec.timeout or self.policy.timeout, self.policy.timeout_max))
            except http.DeliveryError as exc:
                raise FhirError("fault", f"Delivery to the endpoint failed after {sent} events: {exc}.") from exc
            sent += len(events)
        return sent

    async def record_break_glass(self, actor: Actor | None, reason: str, patients: list[str], recorded: str,
                                 request: str, status: int) -> None:
        """Store the records of one request made under break-glass (breakglass.py)."""
        await breakglass.store_records(self.store, breakglass.record(actor, reason, patients, recorded, request,
                                                                     status))

    @property
    def websocket_url(self) -> str:
        base = self.base_url
        scheme, sep, rest = base.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}{sep}{rest}/{WS_PATH}"

    def session(self, send: Send) -> WsSession:
        return WsSession(self.index, self.store, self.base_url, self.policy, send, self.audit)


def _owned(tracked: Tracked, owner: str | None) -> bool:
    """Whether `tracked` is within reach of a caller confined to `owner`'s subscriptions (None: any)."""
    return owner is None or (tracked.spec.owner is not None and tracked.spec.owner[0].subject == owner)


def _number(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.strip().isdigit():
        raise incorrect(f"{name} is an event number (a whole number), not {value!r}.", name)
    return int(value)
