"""rest-hook delivery: one courier per subscription, in the one process that holds the dispatcher lease.

A courier sends the handshake of a `requested` subscription, then its events in order, up to
`backport-max-count` per notification, and a heartbeat when `backport-heartbeat-period` passes in silence
(http://hl7.org/fhir/uv/subscriptions-backport/channels.html#rest-hook). Delivery is at-least-once: the
count of delivered events is checkpointed (see `state`), and after a crash the next lease holder resumes
from the checkpoint, so an event may arrive twice but is never skipped; the event number lets the receiver
drop the duplicate and notice any gap, which `$events` fills.

A failed POST is retried with exponential backoff (`backoff_base * 2**(n-1)`, at most `backoff_max`);
after `error_after` consecutive failures the Subscription's status becomes `error` (with `Subscription.error`
saying why), retries continue at the slower pace, and the first success makes it `active` again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import orjson

from caregate.storage.base import ResourceStore
from caregate.subscriptions import bundles, http, state
from caregate.subscriptions.audited import Recorder, record_delivery
from caregate.subscriptions.events import Event, EventIndex, Tracked

log = logging.getLogger("caregate.subscriptions")


@dataclass(frozen=True, slots=True)
class Policy:
    """Timings and limits of delivery; the defaults suit production, tests shorten them."""

    poll_seconds: float = 0.25  # how often each worker looks at the change log when no commit wakes it
    lease_seconds: float = 1.0  # how often a worker without the lease tries to take it
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    error_after: int = 5  # consecutive failures before the status becomes `error`
    timeout: float = 10.0  # per POST, unless `backport-timeout` says otherwise
    timeout_max: float = 60.0
    max_count: int = 100  # events per notification unless `backport-max-count` says otherwise
    checkpoint_seconds: float = 5.0
    token_seconds: int = 600  # lifetime of a websocket binding token
    events_page: int = 1000  # most events one `$events` answer carries


async def focus_resources(store: ResourceStore, events: list[Event], content: str) -> list[dict | None]:
    """Each event's focus as it was in that version (for `full-resource`); None for a deletion."""
    if content != "full-resource":
        return []
    out: list[dict | None] = []
    for event in events:
        stored = await store.vread(event.type, event.id, event.version)
        out.append(orjson.loads(stored.json) if stored is not None and not stored.deleted else None)
    return out


class Courier:
    """Delivers one rest-hook subscription's events, in order, with retries."""

    def __init__(self, sub_id: str, index: EventIndex, base_url: str, policy: Policy,
                 audit: Recorder | None = None) -> None:
        self.sub_id = sub_id
        self.audit = audit
        self.index = index
        self.store = index.store
        self.base_url = base_url
        self.policy = policy
        self.wake = asyncio.Event()
        self.start_t: int | None = None
        self.delivered = 0
        self.failures = 0
        self.next_try = 0.0
        self.needs_handshake = False  # seen `requested`: the handshake comes first, even through an `error` spell
        self.seen_status: str | None = None
        self.last_sent = time.monotonic()
        self._saved: tuple[int, int] | None = None
        self._saved_at = 0.0

    async def run(self) -> None:
        try:
            while True:
                tracked = self.index.subs.get(self.sub_id)
                if tracked is None or tracked.spec.channel != "rest-hook":
                    if tracked is None:
                        await state.drop_checkpoint(self.store, self.sub_id)
                    return
                self.wake.clear()  # before the work: a wake-up while it runs (new events) must not be lost
                await self._sync(tracked)
                delay = await self._work(tracked)
                await self._save(force=False)
                if delay is None or delay > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):  # not wait_for (storage.changefeed)
                            await self.wake.wait()
        finally:
            with contextlib.suppress(Exception):
                if self.sub_id in self.index.subs:
                    await self._save(force=True)

    async def _sync(self, tracked: Tracked) -> None:
        """Resume from the checkpoint when the count (re)starts: at first sight or after a filter change."""
        if self.start_t == tracked.start_t:
            return
        saved = await state.load_checkpoint(self.store, self.sub_id)
        self.start_t = tracked.start_t
        self.delivered = min(saved[1], tracked.count) if saved and saved[0] == tracked.start_t else 0
        self._saved = (self.start_t, self.delivered) if saved and saved[0] == tracked.start_t else None
        self.failures, self.next_try = 0, 0.0
        self.needs_handshake = tracked.spec.status == "requested"

    async def _save(self, force: bool) -> None:
        if self.start_t is None:
            return
        now_state = (self.start_t, self.delivered)
        recent = time.monotonic() - self._saved_at < self.policy.checkpoint_seconds
        if now_state == self._saved or (recent and not force):
            return
        await state.save_checkpoint(self.store, self.sub_id, *now_state)
        self._saved, self._saved_at = now_state, time.monotonic()

    async def _work(self, tracked: Tracked) -> float | None:
        """Do what is due; return seconds until something else may be (None: until woken)."""
        spec = tracked.spec
        if spec.expired(time.time()):
            await state.set_status(self.store, self.sub_id, "off")
        if spec.status == "off" or spec.expired(time.time()):
            self.delivered = tracked.count  # an `off` subscription is not notified; `$events` still has them
            return None
        if spec.problem:
            if spec.status != "error":
                await state.set_status(self.store, self.sub_id, "error", spec.problem)
            return None
        now = time.monotonic()
        if now < self.next_try:
            return self.next_try - now
        if spec.status == "requested" and self.seen_status not in (None, "requested"):
            self.needs_handshake = True  # set back to `requested` by the client: shake hands again
        self.seen_status = spec.status
        if self.needs_handshake:
            if not await self._send(tracked, "handshake", [], "requested"):
                return self.next_try - time.monotonic()
            self.needs_handshake = False
            await state.set_status(self.store, self.sub_id, "active")
        if tracked.count > self.delivered:
            limit = spec.max_count or self.policy.max_count
            batch = await self.index.events(tracked, self.delivered + 1, self.delivered + limit)
            if not batch:  # the count was restarted meanwhile: `_sync` sees it on the next round
                return self.policy.poll_seconds
            shown = await self.index.readable(tracked, batch)  # what the owner may read at this moment
            if shown:
                if not await self._send(tracked, "event-notification", shown, "active"):
                    return self.next_try - time.monotonic()
                await self._recovered(spec.status)
            self.delivered = batch[-1].number
            return 0 if tracked.count > self.delivered else spec.heartbeat or None
        if spec.status == "error" or (spec.heartbeat and now - self.last_sent >= spec.heartbeat):
            # a heartbeat is due, or probes whether an endpoint in error has come back
            if not await self._send(tracked, "heartbeat", [], "error" if spec.status == "error" else "active"):
                return self.next_try - time.monotonic()
            await self._recovered(spec.status)
            return spec.heartbeat or None
        return self.last_sent + spec.heartbeat - now if spec.heartbeat else None

    async def _recovered(self, status: str) -> None:
        if status in ("requested", "error"):
            await state.set_status(self.store, self.sub_id, "active")

    async def _send(self, tracked: Tracked, kind: str, events: list[Event], status: str) -> bool:
        spec = tracked.spec
        assert spec.topic is not None
        resources = await focus_resources(self.store, events, spec.content)
        body = bundles.notification(self.base_url, spec.id, spec.topic_url, status, kind, tracked.count,
                                    events, spec.content, resources)
        timeout = min(spec.timeout or self.policy.timeout, self.policy.timeout_max)
        try:
            await http.post(spec.endpoint, orjson.dumps(body), spec.headers, timeout)
        except http.DeliveryError as exc:
            await self._failed(str(exc))
            return False
        self.failures, self.next_try, self.last_sent = 0, 0.0, time.monotonic()
        record_delivery(self.audit, self.base_url, spec, events)
        return True

    async def _failed(self, reason: str) -> None:
        self.failures += 1
        delay = min(self.policy.backoff_base * 2 ** (self.failures - 1), self.policy.backoff_max)
        self.next_try = time.monotonic() + delay
        log.warning("notification delivery failed", extra={"fields": {
            "subscription": self.sub_id, "failures": self.failures, "retry_in_s": round(delay, 3), "reason": reason}})
        if self.failures >= self.policy.error_after:
            await state.set_status(self.store, self.sub_id, "error",
                                   f"Notifications keep failing ({reason}); retrying with backoff.")


class Dispatcher:
    """The couriers of this process, run while it holds the lease."""

    def __init__(self, index: EventIndex, base_url: str, policy: Policy) -> None:
        self.index = index
        self.base_url = base_url
        self.policy = policy
        self.couriers: dict[str, tuple[Courier, asyncio.Task]] = {}
        self.audit: Recorder | None = None  # the audit log, when it is on
        self._synced: int | None = None  # the index generation the couriers were last matched to
        self._next_sweep = 0.0
        index.listen(self._touched)

    def _touched(self, ids: set[str]) -> None:
        for sub_id in ids:
            found = self.couriers.get(sub_id)
            if found is not None:
                found[0].wake.set()

    def sync(self) -> None:
        """Start a courier for every rest-hook subscription that has none; forget those that finished.
        It runs after every commit, so it looks only when a subscription changed, or every few seconds (a
        courier that failed is restarted then)."""
        now = time.monotonic()
        if self._synced == self.index.generation and now < self._next_sweep:
            return
        self._synced, self._next_sweep = self.index.generation, now + 5.0
        for sub_id, (_, task) in list(self.couriers.items()):
            if task.done():
                del self.couriers[sub_id]
                if not task.cancelled() and task.exception() is not None:
                    log.error("a courier stopped", extra={"fields": {"subscription": sub_id,
                                                                     "error": type(task.exception()).__name__}})
        for sub_id, tracked in self.index.subs.items():
            if tracked.spec.channel == "rest-hook" and sub_id not in self.couriers:
                courier = Courier(sub_id, self.index, self.base_url, self.policy, self.audit)
                self.couriers[sub_id] = (courier, asyncio.create_task(courier.run()))

    async def stop(self) -> None:
        tasks = [task for _, task in self.couriers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.couriers.clear()
        self._synced = None
