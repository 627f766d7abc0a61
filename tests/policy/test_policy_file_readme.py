"""The README documents the access policy with a worked example: its TOML parses and validates, and the roles
and labels it names are those the example's table of requests relies on."""

from __future__ import annotations

import re
from pathlib import Path

from caregate.policy import Actor
from caregate.policy.rules import parse_policy

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _section() -> str:
    start = README.index("### Access policy")
    return README[start:README.index("\n### ", start + 1)]


def test_the_readme_example_policy_validates() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", _section(), re.S)
    assert len(blocks) == 1
    policy = parse_policy(blocks[0], "README.md example")
    assert set(policy.roles) == {"R8000", "R8008", "R8001", "researcher", "admin", "patient"}
    assert f"valid: {len(policy.roles)} roles" in _section() and f"{len(policy.labels)} labels" in _section()
    sam = Actor.from_scope_string("sam", "app", "user/*.rs", fhir_user="Practitioner/rc1", roles=("R8008",))
    assert policy.denial(sam, "Patient", "r", "TREAT") is None
    assert "roles.R8008.resources does not allow search on Observation" in (
        policy.denial(sam, "Observation", "s", "TREAT") or "")
    assert policy.labels["V"].absolute and policy.labels["R"].redact["Patient"]


def test_the_readme_names_every_setting_and_command_of_the_policy() -> None:
    for text in ("--policy FILE", "CAREGATE_POLICY", "caregate policy check", "caregate policy show-default",
                 "$explain-access"):
        assert text in README, text
