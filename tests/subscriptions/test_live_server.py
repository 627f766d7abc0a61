"""Subscriptions against a real `caregate serve --no-auth` process: a webhook receiver and a websocket client
(the `websockets` package) get exactly the expected notifications, across several worker processes and
across a kill -9 of the server, with gaps filled by `$events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.server import Server
from tests.subscriptions.conftest import (
    Receiver,
    encounter,
    events_of,
    focuses,
    kind_of,
    numbers,
    status_params,
    subscription,
    wait_until,
)

pytestmark = pytest.mark.slow


class WsClient:
    """A websocket subscriber on a thread of its own: binds with a token, records every Bundle it is sent."""

    def __init__(self, base: str, sub_ids: list[str]) -> None:
        self.base = base
        self.sub_ids = sub_ids
        self.bundles: list[dict] = []
        self.closed = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        r = httpx.get(f"{self.base}/Subscription/$get-ws-binding-token", params={"id": ",".join(self.sub_ids)})
        r.raise_for_status()
        params = {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in r.json()["parameter"]}
        try:
            async with connect(params["websocket-url"]) as ws:
                await ws.send(f"bind-with-token: {params['token']}")
                stop = asyncio.create_task(self._stop.wait())
                while True:
                    receive = asyncio.create_task(ws.recv())
                    done, _ = await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
                    if receive not in done:
                        receive.cancel()
                        return
                    self.bundles.append(json.loads(receive.result()))
        except OSError:
            return
        except Exception as exc:  # the server went away
            if type(exc).__module__.startswith("websockets"):
                return
            raise
        finally:
            self.closed.set()

    def events(self, sub_id: str) -> list[tuple[int, str]]:
        return events_of([b for b in list(self.bundles) if status_params(b)["subscription"]["reference"]
                          .endswith(f"/Subscription/{sub_id}")])

    def kinds(self) -> list[str]:
        return [kind_of(b) for b in list(self.bundles)]

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _create(c: httpx.Client, body: dict) -> str:
    r = c.post("/Subscription", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _put(base: str, resource: dict) -> None:
    """A write on a new connection each time, so with several workers the writes land on any of them."""
    r = httpx.put(f"{base}/{resource['resourceType']}/{resource['id']}", json=resource, timeout=10)
    assert r.status_code in (200, 201), r.text


def _events(c: httpx.Client, sub: str, since: int = 1, until: int | None = None) -> list[tuple[int, str]]:
    params = {"eventsSinceNumber": str(since), **({"eventsUntilNumber": str(until)} if until else {})}
    bundle = c.get(f"/Subscription/{sub}/$events", params=params).json()
    return list(zip(numbers(bundle), focuses(bundle), strict=True))


def test_several_workers_deliver_each_event_once_per_subscription(database_url: str, tmp_path: Path,
                                                                  hook: Receiver) -> None:
    server = Server(database_url, tmp_path / "server.log", "--workers", "2")
    ws = None
    try:
        base = server.base
        with httpx.Client(base_url=base, timeout=10) as c:
            rest = _create(c, subscription("encounter-admission", endpoint=hook.url, base=base,
                                           filters=("Encounter?patient=Patient/p1",),
                                           headers=("X-Hook-Secret: s3cret",)))
            admissions = _create(c, subscription("encounter-admission", channel="websocket", base=base))
            discharges = _create(c, subscription("encounter-discharge", channel="websocket", base=base))
            wait_until(lambda: hook.bodies("handshake"), what="the rest-hook handshake")
            ws = WsClient(base, [admissions, discharges])
            wait_until(lambda: ws.kinds().count("handshake") == 2, what="a handshake per bound subscription")

            script = [encounter("e1", "planned"), encounter("e1", "in-progress"),  # admission 1 (p1)
                      encounter("e2", "in-progress", patient="p2"),  # admission 2 (p2)
                      encounter("e1", "finished"),  # discharge 1
                      encounter("e3", "in-progress"),  # admission 3 (p1)
                      encounter("e2", "finished", patient="p2"),  # discharge 2
                      encounter("e1", "in-progress")]  # admission 4 (p1): re-admitted
            for resource in script:
                _put(base, resource)

            wait_until(lambda: len(events_of(hook.bodies())) >= 3 and len(ws.events(admissions)) >= 4
                       and len(ws.events(discharges)) >= 2, what="every expected notification")
            wait_until(lambda: c.get(f"/Subscription/{rest}").json()["status"] == "active", what="active")
            # One more admission, delivered after the others: nothing was sent twice before it (each worker
            # follows the log, but only the lease holder POSTs rest-hook notifications).
            _put(base, encounter("e9", "in-progress"))
            wait_until(lambda: len(events_of(hook.bodies())) >= 4 and len(ws.events(admissions)) >= 5,
                       what="the last admission")

            assert events_of(hook.bodies()) == [(1, "Encounter/e1"), (2, "Encounter/e3"), (3, "Encounter/e1"),
                                                (4, "Encounter/e9")]
            assert [kind_of(b) for b in hook.bodies()] == ["handshake"] + ["event-notification"] * len(
                hook.bodies("event-notification"))
            assert all(r["headers"]["X-Hook-Secret"] == "s3cret" for r in hook.received)
            assert ws.events(admissions) == [(1, "Encounter/e1"), (2, "Encounter/e2"), (3, "Encounter/e3"),
                                             (4, "Encounter/e1"), (5, "Encounter/e9")]
            assert ws.events(discharges) == [(1, "Encounter/e1"), (2, "Encounter/e2")]
            assert _events(c, admissions) == ws.events(admissions), "$events agrees with what was pushed"
    finally:
        if ws is not None:
            ws.close()
        server.stop()


def test_kill_9_mid_stream_loses_nothing(database_url: str, tmp_path: Path, hook: Receiver) -> None:
    """Writes go on while the server is killed and restarted; the receivers detect any gap from the event
    numbers and fetch it with `$events`, ending with every event exactly once, in commit order."""
    total = 24
    server = Server(database_url, tmp_path / "server1.log")
    port = server.port
    ws = None
    try:
        base = server.base
        with httpx.Client(base_url=base, timeout=10) as c:
            rest = _create(c, subscription("encounter-admission", endpoint=hook.url, base=base))
            pushed = _create(c, subscription("encounter-admission", channel="websocket", base=base))
            wait_until(lambda: hook.bodies("handshake"), what="the handshake")
        ws = WsClient(base, [pushed])
        wait_until(lambda: "handshake" in ws.kinds(), what="the websocket handshake")

        written = 0
        for i in range(total):
            if i == total // 3:
                server.kill()  # kill -9, some notifications possibly unsent
                ws.closed.wait(10)
                server = Server(database_url, tmp_path / "server2.log", port=port)
            _put(base, encounter(f"e{i:02d}", "in-progress"))
            written += 1
            if i == total // 3:
                ws.close()
                ws_before = ws
                ws = WsClient(base, [pushed])  # a new connection: events committed while away are a gap
                wait_until(lambda w=ws: "handshake" in w.kinds(), what="the websocket handshake again")
        expected = [(n + 1, f"Encounter/e{n:02d}") for n in range(written)]

        with httpx.Client(base_url=base, timeout=10) as c:
            wait_until(lambda: max((n for n, _ in events_of(hook.bodies())), default=0) == total,
                       what="the rest-hook notifications after the restart")
            wait_until(lambda: max((n for n, _ in ws.events(pushed)), default=0) == total,
                       what="the websocket notifications after the restart")

            for sub, got in ((rest, events_of(hook.bodies())),
                             (pushed, ws_before.events(pushed) + ws.events(pushed))):
                seen = dict(got)  # at-least-once: a repeat carries the same number and focus
                assert len(seen) == len(set(got)), "a repeated event number always names the same focus"
                missing = sorted(set(range(1, total + 1)) - set(seen))
                if missing:
                    seen.update(_events(c, sub, missing[0], missing[-1]))
                assert sorted(seen.items()) == expected
                assert _events(c, sub) == expected
    finally:
        if ws is not None:
            ws.close()
        server.stop()
