"""The staff patient picker, followed as a browser without JavaScript would: a clinician whose app asks for
`launch/patient` without an EHR launch finds the patient by name or NHS number and chooses them, among the
patients they have a legitimate relationship with only; forged or stale choices and patient users get nowhere."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from caregate.storage.base import Write
from tests.auth.conftest import PASSWORD, REDIRECT, Secured
from tests.auth.flow import authorize_params, hidden_fields, pkce, redirect_query, url

pytestmark = pytest.mark.anyio
SCOPE = "launch/patient openid fhirUser patient/*.rs"
NHS_NUMBER = "9434765919"


async def _picker(secured: Secured, username: str = "dr-who") -> tuple[httpx.Response, str]:
    secured.auth.clients.add("Ward app", f"{SCOPE} user/*.rs", client_id="ward", redirect_uris=(REDIRECT,))
    secured.auth.users.add("dr-who", PASSWORD, practitioner="drwho", org="RX1", roles=("R8000",))
    await secured.app.app.fhir.store.transact([Write("update", "Patient", "carol", {
        "resourceType": "Patient", "id": "carol", "name": [{"given": ["Carol"], "family": "Ashby"}],
        "generalPractitioner": [{"reference": "Practitioner/drwho"}],  # registered with dr-who: a relationship
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS_NUMBER}]})])
    verifier, challenge = pkce()
    page = await secured.client.get(url("/auth/authorize", authorize_params(SCOPE, challenge, client_id="ward")))
    signed_in = await secured.client.post("/auth/authorize", data={**hidden_fields(page.text), "username": username,
                                                                   "password": PASSWORD})
    return signed_in, verifier


async def test_search_by_name_and_by_nhs_number_then_choose(secured: Secured) -> None:
    picker, verifier = await _picker(secured)
    assert picker.status_code == 200 and 'action="/auth/pick"' in picker.text and "<script" not in picker.text
    ticket = hidden_fields(picker.text)
    by_name = await secured.client.post("/auth/pick", data={**ticket, "q": "Ashby"})
    # Alice Ashby is not registered with dr-who: the picker does not show her, nor let her be chosen
    assert "1 patient found" in by_name.text and "Carol Ashby" in by_name.text and "alice" not in by_name.text
    outside = await secured.client.post("/auth/pick", data={**ticket, "patient": "alice"})
    assert outside.status_code == 400
    by_number = await secured.client.post("/auth/pick", data={**ticket, "q": "943 476 5919"})
    assert "1 patient found" in by_number.text and "Carol Ashby" in by_number.text
    assert "Brown" not in by_number.text
    consent = await secured.client.post("/auth/pick", data={**ticket, "patient": "carol"})
    assert consent.status_code == 200 and "Allow access?" in consent.text and "Carol Ashby" in consent.text
    done = await secured.client.post("/auth/consent", data={**hidden_fields(consent.text), "decision": "allow"})
    tokens = (await secured.client.post("/auth/token", data={
        "grant_type": "authorization_code", "client_id": "ward", "code": redirect_query(done)["code"],
        "redirect_uri": REDIRECT, "code_verifier": verifier})).json()
    assert tokens["patient"] == "carol"
    payload = tokens["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["patient"] == "carol" and claims["fhirUser"] == "Practitioner/drwho"
    # the picking ticket is used up: the same choice again gets nowhere
    again = await secured.client.post("/auth/pick", data={**ticket, "patient": "alice"})
    assert again.status_code == 400


async def test_forged_and_empty_choices_are_refused_with_a_page(secured: Secured) -> None:
    picker, _ = await _picker(secured)
    ticket = hidden_fields(picker.text)
    missing = await secured.client.post("/auth/pick", data={**ticket, "patient": "no-such-patient"})
    assert missing.status_code == 400 and "no longer exists" in missing.text
    empty = await secured.client.post("/auth/pick", data={**ticket, "q": "  "})
    assert empty.status_code == 400 and "Enter a name or an NHS number" in empty.text
    odd = await secured.client.post("/auth/pick", data={**ticket, "q": "a|b,c$d\\"})
    assert odd.status_code == 200 and "0 patients found" in odd.text
    forged = await secured.client.post("/auth/pick", data={"ticket": "made-up", "patient": "alice"})
    assert forged.status_code == 400
    assert (await secured.client.get("/auth/pick")).status_code == 405


async def test_a_patient_user_never_reaches_the_picker(secured: Secured) -> None:
    _, challenge = pkce()
    page = await secured.client.get(url("/auth/authorize", authorize_params(SCOPE, challenge)))
    consent = await secured.client.post("/auth/authorize", data={**hidden_fields(page.text),
                                                                 "username": "alice-user", "password": PASSWORD})
    assert "Allow access?" in consent.text
    tried = await secured.client.post("/auth/pick", data={**hidden_fields(consent.text), "patient": "bob"})
    assert tried.status_code == 400


async def test_too_many_matches_are_capped_and_the_person_asked_to_narrow(secured: Secured) -> None:
    picker, _ = await _picker(secured)
    await secured.app.app.fhir.store.transact([Write("update", "Patient", f"smith{i}", {
        "resourceType": "Patient", "id": f"smith{i}", "name": [{"family": "Smith", "given": [f"Sam{i}"]}],
        "generalPractitioner": [{"reference": "Practitioner/drwho"}]})
        for i in range(21)])
    found = await secured.client.post("/auth/pick", data={**hidden_fields(picker.text), "q": "Smith"})
    assert "More than 20 patients found" in found.text and "Only the first 20 are shown" in found.text
    assert found.text.count('name="patient"') == 20
