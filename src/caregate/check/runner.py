"""Run tests one by one: every outcome becomes a verdict with its evidence; nothing a server does crashes a run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

from caregate.check.capability import Capability
from caregate.check.client import FhirClient, body_json
from caregate.check.context import CheckContext
from caregate.check.model import CheckTest, Exchange, Failed, Skipped, TestResult, Verdict


@dataclass
class Run:
    base_url: str
    read_only: bool
    results: list[TestResult] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    software: str = ""

    def failed_mandatory(self) -> list[TestResult]:
        return [r for r in self.results if r.mandatory and r.verdict in (Verdict.FAIL, Verdict.ERROR)]


def fetch_capability(client: FhirClient) -> Capability:
    """The server's CapabilityStatement, or an empty one when it has none (tests then fail or skip)."""
    try:
        response = client.get("metadata")
    except httpx.HTTPError:
        return Capability(None)
    return Capability(body_json(response) if response.status_code == 200 else None)


def run_one(ctx: CheckContext, test: CheckTest) -> TestResult:
    client = ctx.client
    client.evidence, client.dropped = [], 0
    try:
        mandatory = bool(test.mandatory(ctx.cap))
    except Exception:  # an odd CapabilityStatement makes a test optional, not a crash
        mandatory = False
    started = time.perf_counter()
    try:
        if test.writes and ctx.read_only:
            raise Skipped("read-only mode: this test writes")
        message = test.run(ctx) or "as required"
        verdict = Verdict.PASS
    except Failed as exc:
        verdict, message = Verdict.FAIL, str(exc)
    except Skipped as exc:
        verdict, message = Verdict.SKIP, str(exc)
    except httpx.HTTPError as exc:
        verdict, message = Verdict.ERROR, f"the server could not be reached or broke the connection: {exc!r}"
    except Exception as exc:  # a test that breaks is reported, never a crash
        verdict, message = Verdict.ERROR, f"{type(exc).__name__}: {exc}"
    evidence = list(client.evidence)
    if client.dropped:
        evidence.append(Exchange("", "", {}, None, None, {}, None, f"{client.dropped} more exchanges not kept"))
    return TestResult(test, verdict, message, mandatory, evidence, time.perf_counter() - started)


def run(ctx: CheckContext, tests: Iterable[CheckTest],
        on_result: Callable[[TestResult], None] | None = None) -> Run:
    outcome = Run(ctx.client.base, ctx.read_only)
    software = ctx.cap.statement.get("software") or {}
    outcome.software = " ".join(str(software.get(k, "")) for k in ("name", "version")).strip()
    if ctx.backend is not None and not ctx.client.token:
        from caregate.check.backend import obtain_token

        try:
            ctx.client.token = obtain_token(ctx.client, ctx.backend)
            ctx.notes["backend"] = "a token was obtained with the client credentials given"
        except (ValueError, httpx.HTTPError) as exc:
            ctx.notes["backend"] = f"no token could be obtained with the client credentials given: {exc}"
        ctx.client.evidence = []
    try:
        for test in tests:
            result = run_one(ctx, test)
            outcome.results.append(result)
            if on_result:
                on_result(result)
    finally:
        ctx.client.evidence = []
        ctx.cleanup()
    outcome.findings = list(ctx.findings)
    return outcome
