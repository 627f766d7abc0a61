"""The websocket channel: one connection bound, by token, to one or more websocket subscriptions.

The backport's flow (http://hl7.org/fhir/uv/subscriptions-backport/channels.html#websockets, after R5
https://hl7.org/fhir/R5/subscription.html#channels): the client asks `$get-ws-binding-token`, opens the
`websocket-url` it was given and sends `bind-with-token: <token>`; the server answers with a `handshake`
notification per subscription, then sends each new event as an `event-notification` Bundle (JSON text
frames) and a `heartbeat` when a subscription's heartbeat period passes in silence. A connection may bind
more tokens later. Events from before the bind are not replayed: the client reads them with `$events`,
knowing from the event numbers exactly which it lacks.

Every worker follows the change log, so whichever worker holds the connection delivers to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import orjson

from caregate.storage.base import ResourceStore
from caregate.subscriptions import bundles, state
from caregate.subscriptions.audited import Recorder, record_delivery
from caregate.subscriptions.delivery import Policy, focus_resources
from caregate.subscriptions.events import EventIndex, Tracked

Send = Callable[[str], Awaitable[None]]


def _outcome(text: str, code: str = "invalid") -> str:
    return orjson.dumps({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "diagnostics": text}]}).decode()


class WsSession:
    """The server side of one websocket connection, independent of the web framework carrying it."""

    def __init__(self, index: EventIndex, store: ResourceStore, base_url: str, policy: Policy, send: Send,
                 audit: Recorder | None = None) -> None:
        self.index = index
        self.audit = audit
        self.store = store
        self.base_url = base_url
        self.policy = policy
        self.send = send
        self.bound: dict[str, list[int]] = {}  # subscription id -> [count start t, events sent]
        self.last_sent: dict[str, float] = {}
        self.dirty: set[str] = set()  # bound subscriptions that gained events or changed since the last flush
        self.wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one frame at a time, whole notifications in order

    async def on_text(self, text: str) -> None:
        """A client message: `bind-with-token: <token>`."""
        command, _, argument = text.strip().partition(":")
        if command.strip().lower() != "bind-with-token":
            await self.send(_outcome("Send 'bind-with-token: <token>' with a token from $get-ws-binding-token."))
            return
        ids = await state.redeem_token(self.store, argument.strip())
        if ids is None:
            await self.send(_outcome("The binding token is unknown or has expired; ask $get-ws-binding-token "
                                     "for a new one.", "security"))
            return
        await self.index.catch_up()
        shaken = []
        for sub_id in ids:
            tracked = self.index.subs.get(sub_id)
            if tracked is None or tracked.spec.channel != "websocket" or tracked.spec.topic is None:
                await self.send(_outcome(f"Subscription/{sub_id} is gone or is not a websocket subscription.",
                                         "not-found"))
                continue
            self.dirty.add(sub_id)
            async with self._lock:
                self.bound[sub_id] = [tracked.start_t, tracked.count]
                await self._notify(tracked, "handshake", [], "requested" if tracked.spec.status == "requested"
                                   else tracked.spec.status)
            if tracked.spec.status == "requested":
                shaken.append(sub_id)
        await state.set_statuses(self.store, shaken, "active")
        self.wake.set()

    def _touched(self, ids: set[str]) -> None:
        hit = ids.intersection(self.bound)
        if hit:
            self.dirty |= hit
            self.wake.set()

    async def pump(self) -> None:
        """Send new events and heartbeats until cancelled (the connection closed)."""
        remove = self.index.listen(self._touched)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._next_heartbeat()):  # not wait_for (storage.changefeed)
                        await self.wake.wait()
                self.wake.clear()
                async with self._lock:
                    await self._flush()
        finally:
            remove()

    def _next_heartbeat(self) -> float | None:
        waits = []
        for sub_id in self._beating():
            tracked = self.index.subs.get(sub_id)
            if tracked is not None and tracked.spec.heartbeat:
                waits.append(max(0.0, self.last_sent.get(sub_id, 0.0) + tracked.spec.heartbeat - time.monotonic()))
        return min(waits) if waits else None

    def _beating(self) -> list[str]:
        """The bound subscriptions with a heartbeat period."""
        subs = self.index.subs
        return [i for i in self.bound if i in subs and subs[i].spec.heartbeat]

    async def _flush(self) -> None:
        """Send what the subscriptions touched since the last flush gained, and the heartbeats that are due."""
        due, self.dirty = self.dirty, set()
        due.update(self._beating())
        for sub_id in sorted(due):
            position = self.bound.get(sub_id)
            if position is None:
                continue
            tracked = self.index.subs.get(sub_id)
            if tracked is None or tracked.spec.channel != "websocket":
                del self.bound[sub_id]
                continue
            if position[0] != tracked.start_t:  # topic or filters changed: a new count began
                position[:] = [tracked.start_t, 0]
            if tracked.spec.status == "off" or tracked.spec.expired(time.time()):
                position[1] = tracked.count
                continue
            limit = tracked.spec.max_count or self.policy.max_count
            while position[1] < tracked.count:
                batch = await self.index.events(tracked, position[1] + 1, position[1] + limit)
                if not batch:
                    break
                shown = await self.index.readable(tracked, batch)  # what the owner may read at this moment
                if shown:
                    await self._notify(tracked, "event-notification", shown, "active")
                position[1] = batch[-1].number
            beat = tracked.spec.heartbeat
            if beat and time.monotonic() - self.last_sent.get(sub_id, 0.0) >= beat:
                await self._notify(tracked, "heartbeat", [], "active")

    async def _notify(self, tracked: Tracked, kind: str, events: list, status: str) -> None:
        spec = tracked.spec
        resources = await focus_resources(self.store, events, spec.content)
        body = bundles.notification(self.base_url, spec.id, spec.topic_url, status, kind, tracked.count,
                                    events, spec.content, resources)
        await self.send(orjson.dumps(body).decode())
        self.last_sent[spec.id] = time.monotonic()
        record_delivery(self.audit, self.base_url, spec, events)
