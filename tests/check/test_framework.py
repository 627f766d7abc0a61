"""The checker's framework: verdicts from outcomes, evidence without secrets, read-only refusing writes."""

from __future__ import annotations

import httpx
import pytest

from caregate.check.capability import Capability
from caregate.check.client import FhirClient
from caregate.check.context import CheckContext
from caregate.check.model import CheckTest, Requirement, Verdict, check, skip
from caregate.check.registry import SUITES, all_tests
from caregate.check.runner import run

REQ = Requirement("something", "https://hl7.org/fhir/R4/http.html")


def _server(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/token-echo"):
        return httpx.Response(200, json={"access_token": "s3cret-token", "token_type": "bearer"})
    return httpx.Response(200, json={"resourceType": "Patient", "id": "p", "text": "x" * 10_000})


def _ctx(read_only: bool = False) -> CheckContext:
    client = FhirClient("http://fhir.test/fhir", token="s3cret-token", read_only=read_only,
                        transport=httpx.MockTransport(_server))
    return CheckContext(client, Capability(None), read_only=read_only)


def _broken(_ctx: CheckContext) -> str:
    raise KeyError("resourceType")


def _reads(ctx: CheckContext) -> str:
    ctx.client.get("Patient/p")
    ctx.client.get("token-echo")
    return "read"


def _writes(ctx: CheckContext) -> str:
    ctx.client.post("Patient", {"resourceType": "Patient"})
    return "wrote"


@pytest.mark.parametrize(("fn", "verdict"), [
    (_reads, Verdict.PASS),
    (lambda ctx: check(False, "no ETag"), Verdict.FAIL),
    (lambda ctx: skip("not declared"), Verdict.SKIP),
    (_broken, Verdict.ERROR),
])
def test_every_outcome_is_a_verdict(fn, verdict: Verdict) -> None:
    t = CheckTest("rest.x", "rest", "x", REQ, fn)
    result = run(_ctx(), [t]).results[0]
    assert result.verdict is verdict
    if verdict is Verdict.ERROR:
        assert "KeyError" in result.message and "resourceType" in result.message


def test_evidence_is_redacted_and_truncated() -> None:
    result = run(_ctx(), [CheckTest("rest.x", "rest", "x", REQ, _reads)]).results[0]
    text = str([e.as_json() for e in result.evidence])
    assert "s3cret-token" not in text
    assert result.evidence[0].request_headers["authorization"] == "Bearer [redacted]"
    assert "truncated" in result.evidence[0].response_body
    assert len(result.evidence[0].response_body) < 4000


def test_read_only_sends_no_write() -> None:
    ctx = _ctx(read_only=True)
    results = run(ctx, [CheckTest("rest.w", "rest", "w", REQ, _writes),
                        CheckTest("rest.v", "rest", "v", REQ, _reads, writes=True)]).results
    assert [r.verdict for r in results] == [Verdict.SKIP, Verdict.SKIP]
    assert ctx.client.writes == 0 and results[0].evidence == []


def test_mandatory_failures_fail_the_run() -> None:
    ctx = _ctx()
    outcome = run(ctx, [CheckTest("rest.a", "rest", "a", REQ, lambda c: check(False, "x"), mandatory=lambda c: False),
                        CheckTest("rest.b", "rest", "b", REQ, lambda c: "ok")])
    assert outcome.failed_mandatory() == []
    outcome = run(ctx, [CheckTest("rest.c", "rest", "c", REQ, lambda c: check(False, "x"))])
    assert [r.test.id for r in outcome.failed_mandatory()] == ["rest.c"]


def test_catalogue_ids_are_unique_and_every_test_states_its_requirement() -> None:
    tests = all_tests()
    assert len({t.id for t in tests}) == len(tests)
    for t in tests:
        assert t.suite in SUITES and t.id.startswith(t.suite + ".")
        assert t.requirement.text and t.requirement.link.startswith("https://")
