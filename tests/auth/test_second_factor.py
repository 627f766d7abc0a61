"""A second factor at sign-in (RFC 6238 TOTP, with single-use recovery codes): enrolled users are asked for a
code after their password, wrong or replayed codes are refused and count toward the lock-out."""

from __future__ import annotations

import pyotp
import pytest
from click.testing import CliRunner

from caregate.cli.main import cli
from tests.auth.conftest import PASSWORD, Secured
from tests.auth.flow import authorize_params, hidden_fields, pkce, redirect_query, url

pytestmark = pytest.mark.anyio
SCOPE = "launch/patient patient/*.rs"


async def _to_code_page(secured: Secured) -> dict[str, str]:
    _, challenge = pkce()
    page = await secured.client.get(url("/auth/authorize", authorize_params(SCOPE, challenge)))
    r = await secured.client.post("/auth/authorize", data={**hidden_fields(page.text), "username": "alice-user",
                                                            "password": PASSWORD})
    assert r.status_code == 200
    assert '<label for="code">Security code</label>' in r.text and "Allow" not in r.text
    return hidden_fields(r.text)


async def test_totp_code_then_consent(secured: Secured) -> None:
    secret, uri, _codes = secured.auth.second_factor.enrol("alice-user")
    assert uri.startswith("otpauth://totp/") and secret in uri
    ticket = await _to_code_page(secured)
    wrong = await secured.client.post("/auth/verify", data={**ticket, "code": "000000"})
    assert wrong.status_code == 401 and 'role="alert"' in wrong.text
    code = pyotp.TOTP(secret).now()
    consent = await secured.client.post("/auth/verify", data={**ticket, "code": code})
    assert consent.status_code == 200 and "Allow access?" in consent.text
    done = await secured.client.post("/auth/consent", data={**hidden_fields(consent.text), "decision": "allow"})
    assert "code" in redirect_query(done)
    again = await _to_code_page(secured)  # the same code a second time (a replay) is refused
    assert (await secured.client.post("/auth/verify", data={**again, "code": code})).status_code == 401


async def test_a_consent_ticket_cannot_skip_the_code(secured: Secured) -> None:
    secured.auth.second_factor.enrol("alice-user")
    ticket = await _to_code_page(secured)
    skipped = await secured.client.post("/auth/consent", data={**ticket, "decision": "allow"})
    assert skipped.status_code == 400 and "location" not in skipped.headers


async def test_recovery_codes_work_once(secured: Secured) -> None:
    _secret, _uri, codes = secured.auth.second_factor.enrol("alice-user")
    ticket = await _to_code_page(secured)
    assert (await secured.client.post("/auth/verify", data={**ticket, "code": codes[0]})).status_code == 200
    ticket = await _to_code_page(secured)
    assert (await secured.client.post("/auth/verify", data={**ticket, "code": codes[0]})).status_code == 401


async def test_wrong_codes_lock_the_account(secured: Secured) -> None:
    secret, _uri, _codes = secured.auth.second_factor.enrol("alice-user")
    ticket = await _to_code_page(secured)
    for _ in range(5):
        await secured.client.post("/auth/verify", data={**ticket, "code": "123456"})
    right = await secured.client.post("/auth/verify", data={**ticket, "code": pyotp.TOTP(secret).now()})
    assert right.status_code == 401


def test_users_add_with_totp_prints_the_secret_once(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["users", "add", "nurse", "--practitioner", "n1", "--totp",
                                      "--database", sqlite_url])
    assert result.exit_code == 0, result.output
    assert "authenticator URI: otpauth://totp/" in result.output
    assert len(result.output.split("recovery codes (each works once): ")[1].split()) == 8
