"""SMART EHR launch (app-launch.html#launch-app-ehr-launch): an app started from a patient's record in the
EHR gets a `launch` id, and its tokens carry that patient and encounter; the id is bound to the app and
short-lived."""

from __future__ import annotations

import pytest

from tests.auth.conftest import PASSWORD, REDIRECT, Secured
from tests.auth.flow import authorize_params, hidden_fields, pkce, redirect_query, sign_in, url

pytestmark = pytest.mark.anyio
SCOPE = "launch openid fhirUser patient/*.rs offline_access"


def _ehr_app(secured: Secured) -> None:
    secured.auth.clients.add("Ward app", "launch launch/patient openid fhirUser offline_access patient/*.rs",
                             client_id="ward", redirect_uris=(REDIRECT,))
    secured.auth.users.add("dr-who", PASSWORD, practitioner="drwho", org="RX1", roles=("R8000",))


async def _authorize(secured: Secured, scope: str, **extra: str) -> tuple[dict[str, str], str]:
    verifier, challenge = pkce()
    r = await secured.client.get(url("/auth/authorize", authorize_params(scope, challenge, client_id="ward",
                                                                           **extra)))
    assert r.status_code == 302, r.text
    return redirect_query(r), verifier


async def test_ehr_launch_gives_the_patient_and_encounter_in_context(secured: Secured) -> None:
    _ehr_app(secured)
    launch = secured.auth.launches.create("ward", "bob", "enc-1")
    verifier, challenge = pkce()
    done = await sign_in(secured.client, url("/auth/authorize", authorize_params(SCOPE, challenge,
                                                                                   client_id="ward", launch=launch)),
                         username="dr-who")
    assert done.status_code == 303
    code = redirect_query(done)["code"]
    r = await secured.client.post("/auth/token", data={"grant_type": "authorization_code", "code": code,
                                                       "redirect_uri": REDIRECT, "client_id": "ward",
                                                       "code_verifier": verifier})
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["patient"] == "bob" and tokens["encounter"] == "enc-1"
    h = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await secured.client.get("/fhir/Patient/bob", headers=h)).status_code == 200
    assert (await secured.client.get("/fhir/Patient/alice", headers=h)).status_code == 404
    refreshed = await secured.client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": "ward",
                                                               "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["patient"] == "bob" and refreshed.json()["encounter"] == "enc-1"


async def test_launch_is_bound_to_its_app_and_expires(secured: Secured) -> None:
    _ehr_app(secured)
    for launch in (secured.auth.launches.create("papp", "bob"), secured.auth.launches.create("ward", "bob", None, -1),
                   "made-up"):
        query, _ = await _authorize(secured, SCOPE, launch=launch)
        assert query["error"] == "invalid_request" and query["state"] == "s-123"
        assert "launch" in query["error_description"]


async def test_launch_parameter_and_scope_go_together(secured: Secured) -> None:
    _ehr_app(secured)
    launch = secured.auth.launches.create("ward", "bob")
    query, _ = await _authorize(secured, "openid patient/*.rs", launch=launch)
    assert query["error"] == "invalid_scope"
    query, _ = await _authorize(secured, SCOPE)
    assert query["error"] == "invalid_request"


async def test_staff_user_without_a_patient_in_context_is_asked_to_pick_one(secured: Secured) -> None:
    _ehr_app(secured)
    _, challenge = pkce()
    page = await secured.client.get(url("/auth/authorize", authorize_params(
        "launch/patient patient/*.rs", challenge, client_id="ward")))
    picker = await secured.client.post("/auth/authorize", data={**hidden_fields(page.text), "username": "dr-who",
                                                                "password": PASSWORD})
    assert picker.status_code == 200 and "Choose the patient" in picker.text
    # the consent step cannot be skipped: the ticket is for picking a patient first
    skipped = await secured.client.post("/auth/consent", data={**hidden_fields(picker.text), "decision": "allow"})
    assert skipped.status_code == 400


async def test_patient_user_cannot_open_another_patients_launch(secured: Secured) -> None:
    _ehr_app(secured)
    launch = secured.auth.launches.create("ward", "bob")
    _, challenge = pkce()
    done = await sign_in(secured.client, url("/auth/authorize", authorize_params(SCOPE, challenge, client_id="ward",
                                                                                   launch=launch)))
    assert redirect_query(done)["error"] == "access_denied"


async def test_smart_configuration_advertises_ehr_launch(secured: Secured) -> None:
    smart = (await secured.client.get("/fhir/.well-known/smart-configuration")).json()
    assert {"launch-ehr", "context-ehr-patient", "context-ehr-encounter"} <= set(smart["capabilities"])
    assert "launch" in smart["scopes_supported"]
