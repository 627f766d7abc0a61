"""Fixtures for subscriptions: a webhook receiver on a loopback port, and the app with delivery running."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from caregate.subscriptions.delivery import Policy

BASE = "http://127.0.0.1:8080/fhir"
SD = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
FAST = Policy(poll_seconds=0.02, lease_seconds=0.1, backoff_base=0.05, backoff_max=0.4, error_after=3,
              timeout=2.0, checkpoint_seconds=0.0)


class Receiver:
    """A rest-hook endpoint: records each POST (body, headers, time); answers 503 while `failing`."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.failed: list[float] = []
        self.failing = False
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with owner._lock:
                    if owner.failing:
                        owner.failed.append(time.monotonic())
                        self.send_response(503)
                    else:
                        owner.received.append({"body": json.loads(raw), "headers": dict(self.headers),
                                               "at": time.monotonic(), "path": self.path})
                        self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def bodies(self, kind: str | None = None) -> list[dict]:
        with self._lock:
            found = [r["body"] for r in self.received]
        return [b for b in found if kind is None or kind_of(b) == kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(check: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def await_until(check: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> Any:
    import anyio

    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await anyio.sleep(0.02)


async def eventually(check: Callable[[], Awaitable[object]], timeout: float = 10.0, what: str = "condition") -> Any:
    import anyio

    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await anyio.sleep(0.02)


# ------------------------------------------------------------------------------------------------ resources


def subscription(topic: str, *, endpoint: str = "", channel: str = "rest-hook", filters: tuple[str, ...] = (),
                 content: str = "id-only", headers: tuple[str, ...] = (), heartbeat: int | None = None,
                 max_count: int | None = None, base: str = BASE, status: str = "requested") -> dict:
    """A backport-profile Subscription on one of our topics."""
    channel_ext = []
    if heartbeat:
        channel_ext.append({"url": SD + "backport-heartbeat-period", "valueUnsignedInt": heartbeat})
    if max_count:
        channel_ext.append({"url": SD + "backport-max-count", "valuePositiveInt": max_count})
    body: dict = {
        "resourceType": "Subscription", "meta": {"profile": [SD + "backport-subscription"]}, "status": status,
        "reason": "test", "criteria": f"{base}/SubscriptionTopic/{topic}",
        "channel": {"type": channel, "payload": "application/fhir+json",
                    "_payload": {"extension": [{"url": SD + "backport-payload-content", "valueCode": content}]}},
    }
    if filters:
        body["_criteria"] = {"extension": [{"url": SD + "backport-filter-criteria", "valueString": f}
                                           for f in filters]}
    if endpoint:
        body["channel"]["endpoint"] = endpoint
    if headers:
        body["channel"]["header"] = list(headers)
    if channel_ext:
        body["channel"]["extension"] = channel_ext
    return body


def encounter(id_: str, status: str, patient: str = "p1") -> dict:
    return {"resourceType": "Encounter", "id": id_, "status": status,
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": f"Patient/{patient}"}}


def lab(id_: str, status: str = "final", patient: str = "p1", category: str = "laboratory",
        code: str = "2345-7") -> dict:
    return {"resourceType": "Observation", "id": id_, "status": status,
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": category}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": f"Patient/{patient}"}, "valueQuantity": {"value": 5.4, "unit": "mmol/L"}}


# ------------------------------------------------------------------------------------------------ bundles


def status_params(bundle: dict) -> dict[str, Any]:
    """The first entry's Parameters as name -> value (notification-event parts as a list of dicts)."""
    out: dict[str, Any] = {"notification-event": []}
    for p in bundle["entry"][0]["resource"]["parameter"]:
        if p["name"] == "notification-event":
            out["notification-event"].append({q["name"]: next(v for k, v in q.items() if k.startswith("value"))
                                              for q in p["part"]})
        else:
            out[p["name"]] = next(v for k, v in p.items() if k.startswith("value"))
    return out


def kind_of(bundle: dict) -> str:
    return status_params(bundle)["type"]


def numbers(bundle: dict) -> list[int]:
    return [int(e["event-number"]) for e in status_params(bundle)["notification-event"]]


def focuses(bundle: dict) -> list[str]:
    """`Type/id` of each event's focus."""
    return ["/".join(e["focus"]["reference"].split("/")[-2:]) for e in status_params(bundle)["notification-event"]]


def advertised_topics(capabilities: dict) -> list[str]:
    """The SubscriptionTopic canonicals a CapabilityStatement names on its Subscription resource."""
    sub = next(r for r in capabilities["rest"][0]["resource"] if r["type"] == "Subscription")
    return [e["valueCanonical"] for e in sub["extension"]
            if e["url"].endswith("/capabilitystatement-subscriptiontopic-canonical")]


def events_of(bodies: list[dict]) -> list[tuple[int, str]]:
    """(event number, focus) of every event in the event-notification bundles, in arrival order."""
    return [pair for b in bodies if kind_of(b) == "event-notification"
            for pair in zip(numbers(b), focuses(b), strict=True)]


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@dataclass
class Live:
    client: Any  # httpx.AsyncClient on the ASGI app
    service: Any  # the SubscriptionService, started


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[Live]:
    """The app with the subscriptions service running (fast timings), and an httpx client on it."""
    import httpx

    from caregate.app import build
    from caregate.config import Settings

    app = build(Settings.from_env(env={}, database_url=database_url, port=8080, no_auth=True), access_log=False)
    fhir = app.app.fhir
    service = fhir.subscriptions.service
    service.tune(FAST)
    await service.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as c:
            yield Live(c, service)
    finally:
        await service.stop()
        await fhir.store.close()
