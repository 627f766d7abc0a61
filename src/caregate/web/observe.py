"""Operations: JSON-line access logs on stderr and Prometheus metrics.

Logs name the route *template* (`/fhir/{type}/{id}`), never the concrete path or query string, which can
carry identifiers or names: no patient data reaches plain logs.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("caregate")

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
                "msg": record.getMessage()}
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            data.update(extra)
        if record.exc_info and record.exc_info[0] is not None:
            data["exception"] = record.exc_info[0].__name__
        return orjson.dumps(data).decode()


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = name != "uvicorn.access"


class Metrics:
    """Request counters and latency histograms, rendered in the Prometheus text format 0.0.4."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (len(_BUCKETS) + 1))
        self.sums: dict[str, float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        counts = self.buckets[route]
        for i, bound in enumerate(_BUCKETS):
            if seconds <= bound:
                counts[i] += 1
                break
        else:
            counts[-1] += 1
        self.sums[route] += seconds

    def render(self) -> str:
        lines = ["# HELP caregate_http_requests_total HTTP requests by method, route and status.",
                 "# TYPE caregate_http_requests_total counter"]
        for (method, route, status), n in sorted(self.requests.items()):
            lines.append(f'caregate_http_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}')
        lines += ["# HELP caregate_http_request_duration_seconds Request latency by route.",
                  "# TYPE caregate_http_request_duration_seconds histogram"]
        for route, counts in sorted(self.buckets.items()):
            running = 0
            for bound, c in zip((*_BUCKETS, float("inf")), counts, strict=True):
                running += c
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'caregate_http_request_duration_seconds_bucket{{route="{route}",le="{le}"}} {running}')
            lines.append(f'caregate_http_request_duration_seconds_sum{{route="{route}"}} {self.sums[route]:.6f}')
            lines.append(f'caregate_http_request_duration_seconds_count{{route="{route}"}} {running}')
        return "\n".join(lines) + "\n"


class ObserveMiddleware:
    """Times each request, counts it, and logs one JSON line (route template, status, duration)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route_template", "unmatched")
            self.metrics.observe(scope["method"], route, status, elapsed)
            if self.access_log:
                log.info("request", extra={"fields": {"method": scope["method"], "route": route,
                                                      "status": status, "ms": round(elapsed * 1000, 2)}})
