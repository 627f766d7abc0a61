"""Sign-in through an external OpenID Connect provider (as with NHS login and NHS CIS2), end to end over HTTP
against a provider the test starts: the sign-in page's button, the provider's answer verified, the person's
record found by NHS number (or staff id), and the SMART authorization finished as for a local user."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from joserfc import jwk

from caregate.auth.federation import ConfigError, load
from caregate.auth.service import AuthService
from tests.auth.conftest import BASE, FHIR, REDIRECT
from tests.auth.flow import authorize_params, hidden_fields, pkce, redirect_query, url
from tests.auth.oidc_provider import OidcProvider

pytestmark = pytest.mark.anyio
NHS_NUMBER = "9000000009"
SCOPE = "launch/patient openid fhirUser profile patient/*.rs"
STAFF_SCOPE = "launch/patient openid fhirUser patient/*.rs"
RECORDS = [
    {"resourceType": "Patient", "id": "alice", "name": [{"given": ["Alice"], "family": "Ashby"}],
     "birthDate": "1970-01-02", "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS_NUMBER}],
     "generalPractitioner": [{"reference": "Practitioner/drwho"}]},
    {"resourceType": "Patient", "id": "bob", "name": [{"family": "Brown"}]},
    {"resourceType": "Practitioner", "id": "drwho", "name": [{"family": "Who"}],
     "identifier": [{"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "555123"}]},
]


@dataclass
class Federated:
    client: httpx.AsyncClient
    auth: AuthService
    patients: OidcProvider  # NHS login's part
    staff: OidcProvider  # CIS2's part
    app: Any


def write_federation(tmp_path: Path, patients: OidcProvider, staff: OidcProvider | None, key_pem: bytes,
                     local: bool = True) -> Path:
    (tmp_path / "rp-key.pem").write_bytes(key_pem)
    text = (f"local_sign_in = {'true' if local else 'false'}\n\n"
            f'[[provider]]\nname = "nhs-login"\ntitle = "NHS login"\nissuer = "{patients.issuer}"\n'
            'client_id = "caregate-rp"\nprivate_key_file = "rp-key.pem"\nscope = "openid profile nhs_number"\n'
            'users = "patient"\n')
    if staff is not None:
        text += (f'\n[[provider]]\nname = "cis2"\ntitle = "NHS Care Identity"\nissuer = "{staff.issuer}"\n'
                 'client_id = "caregate-rp"\nprivate_key_file = "rp-key.pem"\nusers = "staff"\n'
                 '[provider.claims]\nstaff_id = "uid"\nroles = "nhsid_nrbac_roles"\n')
    path = tmp_path / "federation.toml"
    path.write_text(text)
    return path


def rp_key() -> tuple[bytes, jwk.RSAKey]:
    key = jwk.RSAKey.generate_key(2048, parameters={"kid": "rp-1"})
    return key.as_pem(private=True), jwk.RSAKey.import_key(key.as_dict(private=False))


@pytest.fixture
async def federated(database_url: str, tmp_path: Path) -> AsyncIterator[Federated]:
    from caregate.app import build
    from caregate.config import Settings
    from caregate.storage.base import Write

    pem, public = rp_key()
    with OidcProvider("caregate-rp", public) as patients, OidcProvider("caregate-rp", public) as staff:
        path = write_federation(tmp_path, patients, staff, pem)
        settings = Settings.from_env(env={}, database_url=database_url, port=8080, federation=str(path))
        app = build(settings, access_log=False)
        store = app.app.fhir.store
        await store.transact([Write("update", r["resourceType"], r["id"], r) for r in RECORDS])
        auth = AuthService(database_url, FHIR)
        auth.clients.add("Patient app", "launch/patient openid fhirUser profile offline_access patient/*.rs",
                         client_id="papp", redirect_uris=(REDIRECT,))
        auth.clients.add("Ward app", "launch/patient openid fhirUser patient/*.rs user/*.rs", client_id="ward",
                         redirect_uris=(REDIRECT,))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
            yield Federated(c, auth, patients, staff, app)
        app.app.fhir.bearer.close()
        await app.app.fhir.subscriptions.service.stop()
        await store.close()


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def through_provider(client: httpx.AsyncClient, provider: OidcProvider, name: str, scope: str,
                           challenge: str, client_id: str = "papp") -> httpx.Response:
    """From the app's authorize URL, by the provider's button, to caregate's answer at the callback."""
    page = await client.get(url("/auth/authorize", authorize_params(scope, challenge, client_id=client_id)))
    assert page.status_code == 200 and f'value="{name}"' in page.text
    start = await client.post("/auth/federation/start", data={**hidden_fields(page.text), "provider": name})
    assert start.status_code == 303, start.text
    assert start.headers["location"].startswith(f"{provider.issuer}/authorize?")
    async with httpx.AsyncClient() as browser_elsewhere:
        back = await browser_elsewhere.get(start.headers["location"])
    assert back.status_code == 302
    callback = back.headers["location"]
    assert callback.startswith(f"{BASE}/auth/federation/callback?")
    return await client.get(callback.removeprefix(BASE))


async def exchange(client: httpx.AsyncClient, consent_page: httpx.Response, verifier: str,
                   client_id: str = "papp") -> dict:
    done = await client.post("/auth/consent", data={**hidden_fields(consent_page.text), "decision": "allow"})
    assert done.status_code == 303
    r = await client.post("/auth/token", data={"grant_type": "authorization_code", "client_id": client_id,
                                               "code": redirect_query(done)["code"], "redirect_uri": REDIRECT,
                                               "code_verifier": verifier})
    assert r.status_code == 200, r.text
    return r.json()


async def test_patient_signs_in_with_the_provider_and_reaches_their_record(federated: Federated) -> None:
    federated.patients.claims = {"nhs_number": NHS_NUMBER, "vot": "P9.Cp.Cd", "identity_proofing_level": "P9"}
    verifier, challenge = pkce()
    consent = await through_provider(federated.client, federated.patients, "nhs-login", SCOPE, challenge)
    assert consent.status_code == 200 and "Allow access?" in consent.text
    # caregate authenticated at the provider's token endpoint with a private_key_jwt assertion
    sent = federated.patients.token_requests[-1]
    assert sent["header"]["alg"] == "RS512" and sent["claims"]["aud"] == f"{federated.patients.issuer}/token"
    tokens = await exchange(federated.client, consent, verifier)
    assert tokens["patient"] == "alice"
    access = claims_of(tokens["access_token"])
    assert access["vot"] == "P9.Cp.Cd" and access["identity_proofing_level"] == "P9"
    assert access["amr"] == ["pwd", "otp"] and access["fhirUser"] == "Patient/alice"
    assert access["authentication_assurance_level"] == "2"
    id_claims = claims_of(tokens["id_token"])
    assert id_claims["vot"] == "P9.Cp.Cd" and id_claims["fhirUser"] == f"{FHIR}/Patient/alice"
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await federated.client.get("/fhir/Patient/alice", headers=headers)).status_code == 200
    assert (await federated.client.get("/fhir/Patient/bob", headers=headers)).status_code in (403, 404)
    user = federated.auth.users.get("nhs-login:person-1")
    assert user is not None and user.patient == "alice" and user.proofing == "P9"

    # the next sign-in brings the user up to date with what the provider now says
    federated.patients.claims = {"nhs_number": NHS_NUMBER, "vot": "P5.Cp"}
    verifier, challenge = pkce()
    consent = await through_provider(federated.client, federated.patients, "nhs-login", SCOPE, challenge)
    again = claims_of((await exchange(federated.client, consent, verifier))["access_token"])
    assert again["identity_proofing_level"] == "P5" and again["vot"] == "P5.Cp" and again["amr"] == ["pwd"]
    assert federated.auth.users.get("nhs-login:person-1").proofing == "P5"


@pytest.mark.parametrize(("tamper", "says"), [
    ("nonce", "does not belong to this sign-in"), ("issuer", "another issuer"),
    ("signature", "could not be verified"), ("expired", "has expired"), ("audience", "meant for another service"),
    ("none", "could not be verified"), ("hs256", "could not be verified"),
])
async def test_an_answer_that_does_not_verify_is_refused_with_a_page(federated: Federated, tamper: str,
                                                                     says: str) -> None:
    federated.patients.claims = {"nhs_number": NHS_NUMBER, "vot": "P9.Cp.Cd"}
    federated.patients.tamper = tamper
    _, challenge = pkce()
    page = await through_provider(federated.client, federated.patients, "nhs-login", SCOPE, challenge)
    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html") and 'role="alert"' in page.text
    assert says in page.text
    assert federated.auth.users.get("nhs-login:person-1") is None


async def test_the_nhs_number_may_come_from_userinfo_and_vectors_of_trust_are_asked_for(
        database_url: str, tmp_path: Path) -> None:
    from caregate.app import build
    from caregate.config import Settings
    from caregate.storage.base import Write

    pem, public = rp_key()
    with OidcProvider("caregate-rp", public) as provider:
        path = write_federation(tmp_path, provider, None, pem)
        path.write_text(path.read_text() + 'vtr = ["P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm"]\n')
        app = build(Settings.from_env(env={}, database_url=database_url, port=8080, federation=str(path)),
                    access_log=False)
        await app.app.fhir.store.transact([Write("update", r["resourceType"], r["id"], r) for r in RECORDS])
        auth = AuthService(database_url, FHIR)
        auth.clients.add("Patient app", SCOPE, client_id="papp", redirect_uris=(REDIRECT,))
        provider.claims = {"vot": "P9.Cp.Ck"}
        provider.userinfo = {"nhs_number": NHS_NUMBER}
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
                verifier, challenge = pkce()
                consent = await through_provider(c, provider, "nhs-login", SCOPE, challenge)
                tokens = await exchange(c, consent, verifier)
            assert tokens["patient"] == "alice"
            assert claims_of(tokens["access_token"])["vot"] == "P9.Cp.Ck"
            assert json.loads(provider.authorize_requests[-1]["vtr"]) == ["P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm"]
        finally:
            app.app.fhir.bearer.close()
            await app.app.fhir.subscriptions.service.stop()
            await app.app.fhir.store.close()


async def test_an_nhs_number_with_no_record_here_is_a_clear_page(federated: Federated) -> None:
    federated.patients.claims = {"nhs_number": "9434765919", "vot": "P9.Cp.Cd"}
    _, challenge = pkce()
    page = await through_provider(federated.client, federated.patients, "nhs-login", SCOPE, challenge)
    assert page.status_code == 403 and "holds no record for the NHS number" in page.text
    assert "9434765919" not in page.text
    federated.patients.claims = {"vot": "P9.Cp.Cd"}
    page = await through_provider(federated.client, federated.patients, "nhs-login", SCOPE, challenge)
    assert page.status_code == 403 and "did not tell this server your NHS number" in page.text


async def test_a_person_who_does_not_sign_in_at_the_provider_gets_a_page(federated: Federated) -> None:
    federated.patients.deny = True
    _, challenge = pkce()
    page = await through_provider(federated.client, federated.patients, "nhs-login", SCOPE, challenge)
    assert page.status_code == 401 and "NHS login did not sign you in" in page.text


async def test_an_unreachable_or_inconsistent_provider_is_a_page(federated: Federated) -> None:
    _, challenge = pkce()
    page = await federated.client.get(url("/auth/authorize", authorize_params(SCOPE, challenge)))
    form = {**hidden_fields(page.text), "provider": "cis2"}
    federated.staff.claimed_issuer = "https://elsewhere.example"
    inconsistent = await federated.client.post("/auth/federation/start", data=form)
    assert inconsistent.status_code == 502 and "names another issuer" in inconsistent.text
    federated.staff.__exit__()
    gone = await federated.client.post("/auth/federation/start", data=form)
    assert gone.status_code == 502 and "could not be reached" in gone.text
    unknown = await federated.client.post("/auth/federation/start", data={**form, "provider": "elsewhere"})
    assert unknown.status_code == 400 and "not one this server trusts" in unknown.text


async def test_the_callback_works_once_and_only_in_the_browser_that_started(federated: Federated) -> None:
    federated.patients.claims = {"nhs_number": NHS_NUMBER}
    _, challenge = pkce()
    client = federated.client
    page = await client.get(url("/auth/authorize", authorize_params(SCOPE, challenge)))
    start = await client.post("/auth/federation/start", data={**hidden_fields(page.text), "provider": "nhs-login"})
    async with httpx.AsyncClient() as elsewhere:
        callback = (await elsewhere.get(start.headers["location"])).headers["location"].removeprefix(BASE)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=federated.app), base_url=BASE) as other:
        moved = await other.get(callback)
    assert moved.status_code == 400 and "another browser" in moved.text
    replay = await client.get(callback)
    assert replay.status_code == 400 and "expired or was already used" in replay.text
    unknown = await client.get("/auth/federation/callback?state=made-up&code=x")
    assert unknown.status_code == 400


async def test_a_provider_refusing_our_client_authentication_is_a_page(database_url: str, tmp_path: Path) -> None:
    from caregate.app import build
    from caregate.config import Settings

    pem, _ = rp_key()
    _, other_public = rp_key()  # the provider knows another key than the one caregate signs with
    with OidcProvider("caregate-rp", other_public) as provider:
        path = write_federation(tmp_path, provider, None, pem)
        app = build(Settings.from_env(env={}, database_url=database_url, port=8080, federation=str(path)),
                    access_log=False)
        auth = AuthService(database_url, FHIR)
        auth.clients.add("Patient app", SCOPE, client_id="papp", redirect_uris=(REDIRECT,))
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
                _, challenge = pkce()
                page = await through_provider(c, provider, "nhs-login", SCOPE, challenge)
            assert page.status_code == 502 and "did not accept the sign-in" in page.text
            assert provider.token_requests == []
        finally:
            app.app.fhir.bearer.close()
            await app.app.fhir.subscriptions.service.stop()
            await app.app.fhir.store.close()


async def test_staff_provider_links_practitioner_roles_and_org_then_the_patient_is_picked(
        federated: Federated) -> None:
    federated.staff.claims = {"uid": "555123", "authentication_assurance_level": "3", "amr": ["sc"],
                              "nhsid_nrbac_roles": [{"person_roleid": "1", "org_code": "RX1",
                                                     "role_code": "S8000:G8000:R8000"}]}
    verifier, challenge = pkce()
    picker = await through_provider(federated.client, federated.staff, "cis2", STAFF_SCOPE, challenge, "ward")
    assert picker.status_code == 200 and "Choose the patient" in picker.text
    found = await federated.client.post("/auth/pick", data={**hidden_fields(picker.text), "q": "Ashby"})
    assert found.status_code == 200 and "1 patient found" in found.text and "Alice Ashby" in found.text
    choice = hidden_fields(found.text.split("<li>", 1)[1])
    consent = await federated.client.post("/auth/pick", data=choice)
    assert consent.status_code == 200 and "Alice Ashby" in consent.text
    tokens = await exchange(federated.client, consent, verifier, "ward")
    assert tokens["patient"] == "alice"
    access = claims_of(tokens["access_token"])
    assert access["fhirUser"] == "Practitioner/drwho" and access["sub"] == "cis2:person-1"
    assert set(access["roles"]) == {"S8000", "G8000", "R8000"}
    assert access["authentication_assurance_level"] == "3" and access["amr"] == ["sc"]
    user = federated.auth.users.get("cis2:person-1")
    assert user is not None and user.practitioner == "drwho" and user.org == "RX1"


async def test_unknown_staff_member_is_a_clear_page(federated: Federated) -> None:
    federated.staff.claims = {"uid": "999999"}
    _, challenge = pkce()
    page = await through_provider(federated.client, federated.staff, "cis2", STAFF_SCOPE, challenge, "ward")
    assert page.status_code == 403 and "no practitioner record" in page.text


async def test_local_sign_in_can_be_switched_off(database_url: str, tmp_path: Path) -> None:
    from caregate.app import build
    from caregate.config import Settings

    pem, public = rp_key()
    with OidcProvider("caregate-rp", public) as provider:
        path = write_federation(tmp_path, provider, None, pem, local=False)
        app = build(Settings.from_env(env={}, database_url=database_url, port=8080, federation=str(path)),
                    access_log=False)
        auth = AuthService(database_url, FHIR)
        auth.clients.add("Patient app", SCOPE, client_id="papp", redirect_uris=(REDIRECT,))
        auth.users.add("local", "a long enough password", patient="alice")
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
                _, challenge = pkce()
                page = await c.get(url("/auth/authorize", authorize_params(SCOPE, challenge)))
                assert "Sign in with NHS login" in page.text and 'type="password"' not in page.text
                tried = await c.post("/auth/authorize", data={**hidden_fields(page.text), "username": "local",
                                                               "password": "a long enough password"})
                assert tried.status_code == 400 and "only through" in tried.text
        finally:
            app.app.fhir.bearer.close()
            await app.app.fhir.subscriptions.service.stop()
            await app.app.fhir.store.close()


def test_federation_file_mistakes_are_named(tmp_path: Path) -> None:
    pem, _ = rp_key()
    (tmp_path / "k.pem").write_bytes(pem)
    cases = {
        "": "names no [[provider]]",
        '[[provider]]\nname = "x"\nissuer = "https://idp.example"\nprivate_key_file = "k.pem"\n': "client_id",
        '[[provider]]\nname = "x"\nissuer = "https://idp.example"\nclient_id = "c"\nprivate_key_file = "no.pem"\n':
            "cannot be read",
        '[[provider]]\nname = "x"\nissuer = "http://idp.example"\nclient_id = "c"\nprivate_key_file = "k.pem"\n':
            "https",
        '[[provider]]\nname = "x"\nissuer = "https://i.example"\nclient_id = "c"\nprivate_key_file = "k.pem"\n'
        'users = "staff"\n': "staff_id",
        '[[provider]]\nname = "x"\nissuer = "https://i.example"\nclient_id = "c"\nprivate_key_file = "k.pem"\n'
        '[provider.claims]\nnhs = "n"\n': "unknown claim mappings nhs",
    }
    for text, says in cases.items():
        path = tmp_path / "f.toml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=None) as err:
            load(path)
        assert says in str(err.value), (text, str(err.value))


def test_serve_refuses_a_bad_federation_file(tmp_path: Path) -> None:
    from caregate.cli.main import cli

    bad = tmp_path / "f.toml"
    bad.write_text("[[provider]]\n")
    result = CliRunner().invoke(cli, ["serve", "--federation", str(bad), "--database",
                                      f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code != 0 and "name is required" in result.output
