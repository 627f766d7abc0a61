"""The access policy file: validated with every problem named, the built-in default, and roles that deny on top
of scopes over HTTP with real tokens (403 naming the rule)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from caregate.cli.main import cli
from caregate.policy import Actor
from caregate.policy.rules import PolicyError, default_policy, load_policy, parse_policy
from tests.auth.conftest import PASSWORD, Secured, secured  # noqa: F401

DEFAULT = Path(__file__).resolve().parents[2] / "src" / "caregate" / "policy" / "default_policy.toml"


def test_the_built_in_policy_is_the_shipped_file_and_valid() -> None:
    policy = default_policy()
    assert policy.source == "built-in default_policy.toml"
    assert set(policy.roles) == {"R8000", "R8001", "R8008", "researcher", "admin", "patient", "unassigned"}
    assert policy.roles["researcher"].purposes == frozenset({"HRESCH"})
    assert load_policy(DEFAULT).roles.keys() == policy.roles.keys()
    assert load_policy(None).roles.keys() == policy.roles.keys()


@pytest.mark.parametrize("text, problem", [
    ("[roles.R8000]\nresources = { Observaton = ['read'] }\n",
     "roles.R8000.resources.Observaton: is not a FHIR R4 resource type"),
    ("[roles.R8000]\nresources = { Observation = ['peek'] }\n",
     "roles.R8000.resources.Observation: 'peek' is not an interaction"),
    ("[roles.R8000]\npurposes = ['TRET']\n", "roles.R8000.purposes: 'TRET' is not a v3 PurposeOfUse code"),
    ("[roles.R8000]\npurposes = 'TREAT'\n", "roles.R8000.purposes: must be a list of strings"),
    ("[roles.R8000]\nlabels = ['PSY']\n", "roles.R8000.labels: 'PSY' is not a label of this policy"),
    ("[roles.R8000]\nrelationships = ['friendship']\n", "roles.R8000.relationships: 'friendship' is not a "
                                                          "relationship kind (known: care-team, encounter"),
    ("[roles.R8000]\ncolour = 'blue'\n", "roles.R8000.colour: unknown key"),
    ("[roles.R8000]\n[labels.FOO]\n", "labels.FOO: 'FOO' is neither a v3-Confidentiality code"),
    ("[roles.R8000]\n[labels.R]\nredact = { Patient = ['meta'] }\n",
     "labels.R.redact.Patient: 'meta' is not a top-level element"),
    ("[roles.R8000]\n[labels.V]\nabsolute = 'yes'\n", "labels.V.absolute: must be true or false"),
    ("[labels.V]\n", "roles: must be a table with at least one role"),
    ("[roles.R8000\n", "not valid TOML"),
])
def test_each_problem_is_named_with_file_and_key_path(text: str, problem: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, "site.toml")
    assert any(p.startswith("site.toml: ") and problem in p for p in raised.value.problems), raised.value.problems


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy("[roles.A]\npurposes = ['X']\n[roles.B]\nresources = { Nope = ['read'] }\n", "f.toml")
    assert len(raised.value.problems) == 2


def test_a_system_qualified_label_is_accepted() -> None:
    policy = parse_policy("[roles.R8000]\nlabels = ['urn:example|SECRET']\n[labels.'urn:example|SECRET']\n", "f")
    label = policy.labels["urn:example|SECRET"]
    assert (label.system, label.code) == ("urn:example", "SECRET")


def test_policy_check_command(tmp_path: Path) -> None:
    good = CliRunner().invoke(cli, ["policy", "check", str(DEFAULT)])
    assert good.exit_code == 0 and "valid: 7 roles" in good.output
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text("[roles.R8000]\npurposes = ['TRET']\nresources = { Observaton = ['read'] }\n")
    bad = CliRunner().invoke(cli, ["policy", "check", str(bad_file)])
    assert bad.exit_code == 1
    assert f"{bad_file}: roles.R8000.purposes: 'TRET'" in bad.output
    assert f"{bad_file}: roles.R8000.resources.Observaton" in bad.output
    missing = CliRunner().invoke(cli, ["policy", "check", str(tmp_path / "none.toml")])
    assert missing.exit_code == 1 and "cannot be read" in missing.output
    shown = CliRunner().invoke(cli, ["policy", "show-default"])
    assert shown.output == DEFAULT.read_text()


def test_serve_refuses_to_start_with_an_invalid_policy(tmp_path: Path) -> None:
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text("[roles.R8000]\npurposes = ['TRET']\n")
    result = CliRunner().invoke(cli, ["serve", "--policy", str(bad_file), "--database",
                                      f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code != 0
    assert "the access policy is not valid" in result.output and "roles.R8000.purposes" in result.output


def _actor(*roles: str, fhir_user: str | None = "Practitioner/drwho") -> Actor:
    return Actor.from_scope_string("u", "app", "user/*.cruds", fhir_user=fhir_user, roles=roles)


@pytest.mark.parametrize("roles, type_, letter, purpose, rule", [
    (("R8000",), "Observation", "d", "TREAT", None),
    (("R8000",), "Observation", "r", "HRESCH", "roles.R8000.purposes does not include HRESCH"),
    (("R8001",), "Observation", "d", "TREAT", "roles.R8001.resources does not allow delete on Observation"),
    (("R8008",), "Patient", "u", "TREAT", None),
    (("R8008",), "Observation", "r", "TREAT", "roles.R8008.resources does not allow read on Observation"),
    (("R8008", "R8000"), "Observation", "r", "TREAT", None),  # a user acts in any of their roles
    (("researcher",), "Observation", "s", "HRESCH", None),
    (("researcher",), "Observation", "c", "HRESCH", "roles.researcher.resources does not allow create"),
    (("admin",), "Observation", "r", "HSYSADMIN", "roles.admin.resources does not allow read on Observation"),
    (("R9999",), "Patient", "r", "TREAT", "has no rule for the role R9999"),
    ((), "Observation", "d", "TREAT", None),  # unassigned: bounded by scopes
])
def test_default_role_decisions(roles: tuple[str, ...], type_: str, letter: str, purpose: str,
                                rule: str | None) -> None:
    denial = default_policy().denial(_actor(*roles), type_, letter, purpose)
    assert denial == rule if rule is None else rule in (denial or ""), denial


def test_a_backend_service_is_bounded_by_its_scopes_alone() -> None:
    backend = Actor.from_scope_string("lab", "lab", "system/*.cruds")
    assert default_policy().roles_of(backend) is None
    assert default_policy().denial(backend, "Observation", "d", "HRESCH") is None


# -- over HTTP, with real tokens -------------------------------------------------------------------------------

def _user(secured: Secured, name: str, *roles: str) -> dict[str, str]:  # noqa: F811
    secured.auth.users.add(name, PASSWORD, practitioner="drwho", org="A81001", roles=roles)
    return secured.headers("user/*.cruds", user=name)


async def _registered_with_drwho(secured: Secured) -> None:  # noqa: F811
    """Give drwho a legitimate relationship (GP registration) with alice, so direct care reaches her."""
    patient = {"resourceType": "Patient", "id": "alice", "name": [{"family": "Ashby"}],
               "generalPractitioner": [{"reference": "Practitioner/drwho"}]}
    r = await secured.client.put("/fhir/Patient/alice", json=patient, headers=secured.headers("system/*.cruds"))
    assert r.status_code == 200, r.text


@pytest.mark.anyio
async def test_roles_deny_on_top_of_scopes_naming_the_rule(secured: Secured) -> None:  # noqa: F811
    await _registered_with_drwho(secured)
    clerk = _user(secured, "clerk", "R8008")
    assert (await secured.client.get("/fhir/Patient/alice", headers=clerk)).status_code == 200
    r = await secured.client.get("/fhir/Observation?patient=alice", headers=clerk)
    assert r.status_code == 403
    assert "roles.R8008.resources does not allow search on Observation" in r.json()["issue"][0]["diagnostics"]
    r = await secured.client.get("/fhir/Observation/a1", headers=clerk)
    assert r.status_code == 403 and "read on Observation" in r.text

    nurse = _user(secured, "nurse", "R8001")
    assert (await secured.client.get("/fhir/Observation/a1", headers=nurse)).status_code == 200
    r = await secured.client.delete("/fhir/Observation/a1", headers=nurse)
    assert r.status_code == 403 and "roles.R8001.resources does not allow delete" in r.text

    doctor = _user(secured, "doctor", "R8000")
    r = await secured.client.get("/fhir/Patient/alice", headers={**doctor, "X-Purpose-Of-Use": "HRESCH"})
    assert r.status_code == 403 and "roles.R8000.purposes does not include HRESCH" in r.text

    stranger = _user(secured, "stranger", "R9999")
    r = await secured.client.get("/fhir/Patient/alice", headers=stranger)
    assert r.status_code == 403 and "no rule for the role R9999" in r.text


@pytest.mark.anyio
async def test_included_types_the_role_may_not_read_are_left_out(secured: Secured) -> None:  # noqa: F811
    await _registered_with_drwho(secured)
    clerk = _user(secured, "clerk", "R8008")
    r = await secured.client.get("/fhir/Patient?_id=alice&_revinclude=Observation:subject", headers=clerk)
    assert r.status_code == 200, r.text
    assert [e["resource"]["resourceType"] for e in r.json()["entry"]] == ["Patient"]


@pytest.mark.anyio
async def test_a_policy_file_replaces_the_default(secured: Secured, tmp_path: Path) -> None:  # noqa: F811
    await _registered_with_drwho(secured)
    path = tmp_path / "site.toml"
    path.write_text("[roles.R8008]\nresources = { Observation = ['read', 'search'] }\npurposes = ['TREAT']\n")
    secured.app.app.fhir.policy = load_policy(path)
    clerk = _user(secured, "clerk", "R8008")
    assert (await secured.client.get("/fhir/Observation/a1", headers=clerk)).status_code == 200
    r = await secured.client.get("/fhir/Patient/alice", headers=clerk)
    assert r.status_code == 403 and "access policy rule roles.R8008.resources does not allow read on Patient" in r.text
    backend = secured.headers("system/*.cruds")
    assert (await secured.client.get("/fhir/Patient/alice", headers=backend)).status_code == 200


@pytest.mark.anyio
async def test_a_role_counts_only_its_relationship_kinds(secured: Secured, tmp_path: Path) -> None:  # noqa: F811
    await _registered_with_drwho(secured)  # alice is registered with drwho; bob has no relationship with anyone
    path = tmp_path / "site.toml"
    path.write_text("[roles.R8000]\nresources = { '*' = ['read'] }\npurposes = ['TREAT']\n"
                    "[roles.R8001]\nresources = { '*' = ['read'] }\npurposes = ['TREAT']\n"
                    "relationships = ['care-team']\n"
                    "[roles.R8003]\nresources = { '*' = ['read'] }\npurposes = ['TREAT']\nrelationships = []\n")
    secured.app.app.fhir.policy = load_policy(path)
    seen = {}
    for role in ("R8000", "R8001", "R8003"):
        headers = _user(secured, f"user-{role}", role)
        seen[role] = [(await secured.client.get(f"/fhir/Patient/{p}", headers=headers)).status_code
                      for p in ("alice", "bob")]
    assert seen == {"R8000": [200, 404], "R8001": [404, 404], "R8003": [200, 200]}
