"""A minimum identity proofing level for patients' access to their record (`--min-proofing`, as services behind
NHS login ask P9), and the vector of trust (`vot`) that tokens carry beside the proofing level and methods."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from click.testing import CliRunner

from caregate.auth.assurance import authentication_level, minimum_proofing, vector_of_trust
from caregate.auth.service import AuthService
from tests.auth.conftest import BASE, FHIR, PASSWORD, RECORDS, REDIRECT
from tests.auth.flow import authorize_params, pkce, redirect_query, sign_in, url

pytestmark = pytest.mark.anyio


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
async def strict(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, AuthService]]:
    """A server requiring P9 for patients' record access."""
    from caregate.app import build
    from caregate.config import Settings
    from caregate.storage.base import Write

    app = build(Settings.from_env(env={}, database_url=database_url, port=8080, min_proofing="P9"),
                access_log=False)
    await app.app.fhir.store.transact([Write("update", r["resourceType"], r["id"], r) for r in RECORDS])
    auth = AuthService(database_url, FHIR)
    auth.clients.add("Patient app", "launch/patient openid fhirUser profile patient/*.rs system/*.rs",
                     client_id="papp", redirect_uris=(REDIRECT,))
    auth.users.add("alice-p5", PASSWORD, patient="alice", proofing="P5")
    auth.users.add("alice-p9", PASSWORD, patient="alice", proofing="P9")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c, auth
    app.app.fhir.bearer.close()
    await app.app.fhir.subscriptions.service.stop()
    await app.app.fhir.store.close()


async def test_a_patient_below_the_required_level_gets_403_saying_p9_is_needed(strict) -> None:
    client, auth = strict
    token = auth.issue("papp", "patient/*.rs", user="alice-p5")[0]
    r = await client.get("/fhir/Patient/alice", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["code"] == "forbidden" and "P9" in issue["diagnostics"] and "P5" in issue["diagnostics"]
    searched = await client.get("/fhir/Observation", headers={"Authorization": f"Bearer {token}"})
    assert searched.status_code == 403


async def test_a_p9_patient_and_non_patient_callers_are_let_through(strict) -> None:
    client, auth = strict
    token = auth.issue("papp", "patient/*.rs", user="alice-p9")[0]
    r = await client.get("/fhir/Patient/alice", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["id"] == "alice"
    backend = auth.issue("papp", "system/*.rs")[0]  # a backend service has no proofing level: not a patient
    assert (await client.get("/fhir/Patient/bob", headers={"Authorization": f"Bearer {backend}"})).status_code == 200
    # an operator's token for a patient without a user carries no proofing, so it is not enough either
    bare = auth.issue("papp", "patient/*.rs", patient="alice")[0]
    assert (await client.get("/fhir/Patient/alice", headers={"Authorization": f"Bearer {bare}"})).status_code == 403


async def test_without_the_option_proofing_is_not_required(secured) -> None:
    secured.auth.users.add("alice-p0", PASSWORD, patient="alice")
    headers = secured.headers("patient/*.rs", user="alice-p0")
    assert (await secured.client.get("/fhir/Patient/alice", headers=headers)).status_code == 200


async def test_local_sign_in_tokens_carry_the_vector_of_trust(strict) -> None:
    client, _ = strict
    verifier, challenge = pkce()
    done = await sign_in(client, url("/auth/authorize", authorize_params("launch/patient openid fhirUser "
                                                                         "patient/*.rs", challenge)),
                         username="alice-p9")
    r = await client.post("/auth/token", data={"grant_type": "authorization_code", "client_id": "papp",
                                               "code": redirect_query(done)["code"], "redirect_uri": REDIRECT,
                                               "code_verifier": verifier})
    tokens = r.json()
    access, id_token = _claims(tokens["access_token"]), _claims(tokens["id_token"])
    assert access["vot"] == "P9.Cp" and access["identity_proofing_level"] == "P9"
    assert access["authentication_assurance_level"] == "1" and id_token["authentication_assurance_level"] == "1"
    assert id_token["vot"] == "P9.Cp" and id_token["identity_proofing_level"] == "P9" and id_token["amr"] == ["pwd"]
    reading = await client.get("/fhir/Patient/alice", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert reading.status_code == 200


async def test_discovery_names_the_assurance_claims(strict) -> None:
    client, _ = strict
    document = (await client.get("/.well-known/openid-configuration")).json()
    assert {"vot", "identity_proofing_level", "amr", "authentication_assurance_level"} <= set(
        document["claims_supported"])


def test_vector_of_trust_and_minimum_values() -> None:
    assert vector_of_trust("P9", ("pwd", "otp")) == "P9.Cp.Cd"
    assert vector_of_trust("P0", ()) == "P0"
    assert authentication_level(("pwd",)) == "1" and authentication_level(("pwd", "otp")) == "2"
    assert authentication_level(("mfa",)) == "2" and authentication_level(("otp",)) == "1"
    assert minimum_proofing("p9") == "P9" and minimum_proofing("") == "" and minimum_proofing("P0") == ""
    with pytest.raises(ValueError, match="P7"):
        minimum_proofing("P7")


def test_serve_takes_only_known_levels(tmp_path) -> None:
    from caregate.cli.main import cli

    result = CliRunner().invoke(cli, ["serve", "--min-proofing", "P7", "--database", f"sqlite:///{tmp_path}/x.db"])
    assert result.exit_code != 0 and "P7" in result.output
