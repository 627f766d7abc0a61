"""Password and credential guessing from one network address is slowed down (429 with Retry-After, RFC 6585),
on the sign-in pages and the token endpoint, whichever accounts it aims at; other addresses are unaffected."""

from __future__ import annotations

import httpx
import pytest

from caregate.auth.throttle import MAX_FAILURES, WINDOW, GuessLimiter
from tests.auth.conftest import BASE, PASSWORD, REDIRECT, Secured
from tests.auth.flow import authorize_params, hidden_fields, pkce, url

pytestmark = pytest.mark.anyio
BAD_CODE = {"grant_type": "authorization_code", "code": "guess", "redirect_uri": REDIRECT, "client_id": "papp",
            "code_verifier": "v" * 43}


def _retry_after(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    wait = int(r.headers["retry-after"])
    assert 1 <= wait <= WINDOW
    return wait


async def test_token_endpoint_answers_429_after_repeated_failures(secured: Secured) -> None:
    for _ in range(MAX_FAILURES):
        assert (await secured.client.post("/auth/token", data=BAD_CODE)).status_code == 400
    r = await secured.client.post("/auth/token", data=BAD_CODE)
    _retry_after(r)
    assert r.json()["error"] == "invalid_request" and r.headers["cache-control"] == "no-store"
    transport = httpx.ASGITransport(app=secured.app, client=("192.0.2.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as elsewhere:
        assert (await elsewhere.post("/auth/token", data=BAD_CODE)).status_code == 400


async def test_sign_in_page_answers_429_after_guesses_at_many_accounts(secured: Secured) -> None:
    _, challenge = pkce()
    page = await secured.client.get(url("/auth/authorize", authorize_params("patient/*.rs", challenge)))
    fields = hidden_fields(page.text)
    for i in range(MAX_FAILURES):  # a few guesses each at many accounts: no single account locks
        wrong = await secured.client.post("/auth/authorize", data={**fields, "username": f"user-{i}",
                                                                   "password": "letmein"})
        assert wrong.status_code == 401
    right = await secured.client.post("/auth/authorize", data={**fields, "username": "alice-user",
                                                               "password": PASSWORD})
    _retry_after(right)
    assert 'role="alert"' in right.text and "Too many failed attempts" in right.text
    assert (await secured.client.get(url("/auth/authorize", authorize_params("patient/*.rs", challenge)))
            ).status_code == 200  # the page itself is still shown


def test_limiter_counts_failures_in_a_sliding_window() -> None:
    clock = [1000.0]
    limiter = GuessLimiter(max_failures=3, window=60, now=lambda: clock[0])
    for _ in range(3):
        assert limiter.retry_after("203.0.113.1") is None
        limiter.fail("203.0.113.1")
        clock[0] += 10
    assert limiter.retry_after("203.0.113.1") == 30  # the first failure leaves the window at 1060
    assert limiter.retry_after("203.0.113.2") is None
    clock[0] = 1060
    assert limiter.retry_after("203.0.113.1") is None
