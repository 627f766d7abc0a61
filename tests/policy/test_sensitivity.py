"""Sensitivity labels with real tokens on both engines: resources labelled for roles that may not see them are
withheld inside the one SQL query (reads 404; searches, totals, includes, _has and history leave them out);
break-glass lifts every label but the absolute ones; a backend service is bounded by its scopes alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from caregate.policy.rules import ACT_CODE, CONFIDENTIALITY, load_policy
from tests.auth.conftest import PASSWORD, Secured, secured  # noqa: F401
from tests.policy.views import seen

pytestmark = pytest.mark.anyio
EXAMPLE = "http://example.org/codes"


def _obs(id_: str, code: str, *labels: tuple[str, str]) -> dict:
    obs = {"resourceType": "Observation", "id": id_, "status": "final",
           "code": {"coding": [{"system": EXAMPLE, "code": code}]}, "subject": {"reference": "Patient/alice"}}
    if labels:
        obs["meta"] = {"security": [{"system": s, "code": c} for s, c in labels]}
    return obs


LABELLED = [
    {"resourceType": "Patient", "id": "alice", "name": [{"family": "Ashby"}],
     "generalPractitioner": [{"reference": "Practitioner/drwho"}]},  # drwho's registered patient: a relationship
    _obs("psy", "psy-note", (ACT_CODE, "PSY")),
    _obs("hiv", "hiv-test", (ACT_CODE, "HIV"), (CONFIDENTIALITY, "N")),
    _obs("vr", "very-restricted", (CONFIDENTIALITY, "V")),
    _obs("plain", "plain", (CONFIDENTIALITY, "N")),
]
EVERY = ["Observation/a1", "Observation/a2", "Observation/hiv", "Observation/plain", "Observation/psy",
         "Observation/vr"]


async def _setup(secured: Secured) -> None:  # noqa: F811
    writer = secured.headers("system/*.cruds")
    for resource in LABELLED:
        r = await secured.client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource,
                                     headers=writer)
        assert r.status_code in (200, 201), r.text


def _user(secured: Secured, name: str, role: str) -> dict[str, str]:  # noqa: F811
    secured.auth.users.add(name, PASSWORD, practitioner="drwho", org="A81001", roles=(role,))
    return secured.headers("user/*.cruds", user=name)


_view = seen


def _except(*ids: str) -> list[str]:
    return [i for i in EVERY if i.split("/")[1] not in ids]


# (request, what a nurse R8001 sees: MH and BH only, what a doctor R8000 sees: not V, PSYTHPN)
CASES = [
    ("/fhir/Observation/psy", 404, 200),
    ("/fhir/Observation/hiv", 404, 200),
    ("/fhir/Observation/vr", 404, 404),
    ("/fhir/Observation/plain", 200, 200),
    ("/fhir/Observation/psy/_history/1", 404, 200),
    ("/fhir/Observation/psy/_history", 404, (None, ["Observation/psy"])),
    ("/fhir/Observation?patient=alice", (3, _except("psy", "hiv", "vr")), (5, _except("vr"))),
    ("/fhir/Observation?patient=alice&_summary=count", (3, []), (5, [])),
    ("/fhir/Observation?patient=alice&_count=1&_total=accurate", (3, ["Observation/a1"]), (5, ["Observation/a1"])),
    (f"/fhir/Observation?code={EXAMPLE}|psy-note", (0, []), (1, ["Observation/psy"])),
    (f"/fhir/Observation?_security={ACT_CODE}|HIV", (0, []), (1, ["Observation/hiv"])),
    (f"/fhir/Patient?_has:Observation:subject:code={EXAMPLE}|psy-note", (0, []), (1, ["Patient/alice"])),
    ("/fhir/Patient?_id=alice&_revinclude=Observation:subject",
     (1, sorted(["Patient/alice", *_except("psy", "hiv", "vr")])), (1, sorted(["Patient/alice", *_except("vr")]))),
    (f"/fhir/Observation?code={EXAMPLE}|plain&subject.family=Ashby", (1, ["Observation/plain"]),
     (1, ["Observation/plain"])),
]


async def test_labels_withhold_resources_by_role_in_every_route(secured: Secured) -> None:  # noqa: F811
    await _setup(secured)
    nurse, doctor = _user(secured, "nurse", "R8001"), _user(secured, "doctor", "R8000")
    for path, nurse_view, doctor_view in CASES:
        assert await _view(secured, nurse, path) == nurse_view, ("nurse", path)
        assert await _view(secured, doctor, path) == doctor_view, ("doctor", path)


async def test_type_history_leaves_withheld_resources_out(secured: Secured) -> None:  # noqa: F811
    await _setup(secured)
    nurse = _user(secured, "nurse", "R8001")
    _total, ids = await _view(secured, nurse, "/fhir/Observation/_history")  # type: ignore[misc]
    assert "Observation/psy" not in ids and "Observation/plain" in ids


async def test_break_glass_lifts_all_but_absolute_labels(secured: Secured) -> None:  # noqa: F811
    await _setup(secured)
    nurse = {**_user(secured, "nurse", "R8001"), "X-Purpose-Of-Use": "ETREAT",
             "X-Break-Glass-Reason": "unconscious in A&E"}
    assert await _view(secured, nurse, "/fhir/Observation/psy") == 200
    assert await _view(secured, nurse, "/fhir/Observation/hiv") == 200
    assert await _view(secured, nurse, "/fhir/Observation/vr") == 404  # V is absolute in the built-in policy
    assert await _view(secured, nurse, "/fhir/Observation?patient=alice&_summary=count") == (5, [])


async def test_researcher_sees_no_labelled_resource(secured: Secured) -> None:  # noqa: F811
    await _setup(secured)
    researcher = {**_user(secured, "rita", "researcher"), "X-Purpose-Of-Use": "HRESCH"}
    assert await _view(secured, researcher, "/fhir/Observation?patient=alice&_summary=count") == (3, [])
    assert await _view(secured, researcher, "/fhir/Observation/hiv") == 404


async def test_backend_services_and_patients_see_every_label(secured: Secured) -> None:  # noqa: F811
    await _setup(secured)
    backend = secured.headers("system/*.rs")
    assert await _view(secured, backend, "/fhir/Observation?patient=alice&_summary=count") == (6, [])
    alice = secured.headers("patient/*.rs", user="alice-user")
    assert await _view(secured, alice, "/fhir/Observation?_summary=count") == (6, [])
    assert await _view(secured, alice, "/fhir/Observation/vr") == 200


async def test_a_policy_can_let_a_role_see_a_label(secured: Secured, tmp_path: Path) -> None:  # noqa: F811
    await _setup(secured)
    path = tmp_path / "site.toml"
    path.write_text("[roles.R8001]\nresources = { '*' = ['read', 'search'] }\npurposes = ['TREAT']\n"
                    "labels = ['PSY']\n[labels.PSY]\n[labels.HIV]\nabsolute = true\n")
    secured.app.app.fhir.policy = load_policy(path)
    nurse = _user(secured, "nurse", "R8001")
    assert await _view(secured, nurse, "/fhir/Observation/psy") == 200
    assert await _view(secured, nurse, "/fhir/Observation/hiv") == 404
    assert await _view(secured, nurse, "/fhir/Observation/vr") == 200  # V is not a label of this policy


async def test_a_withheld_resource_cannot_be_overwritten_or_deleted(secured: Secured) -> None:  # noqa: F811
    await _setup(secured)
    nurse = _user(secured, "nurse", "R8001")
    replacement = _obs("psy", "overwritten")
    assert (await secured.client.put("/fhir/Observation/psy", json=replacement, headers=nurse)).status_code == 404
    patch = [{"op": "replace", "path": "/status", "value": "amended"}]
    r = await secured.client.patch("/fhir/Observation/psy", json=patch,
                                   headers={**nurse, "Content-Type": "application/json-patch+json"})
    assert r.status_code == 404
    r = await secured.client.get("/fhir/Observation/psy", headers=secured.headers("system/*.rs"))
    assert r.json()["code"]["coding"][0]["code"] == "psy-note" and r.json()["status"] == "final"
