"""`caregate access explain` names the rule that permits or denies a request, on both engines."""

from __future__ import annotations

from click.testing import CliRunner

from caregate.cli.main import cli


def _explain(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["access", "explain", "--database", database_url, *args])
    return result.exit_code, result.output


def _users(database_url: str) -> None:
    for name, extra in (("dr", ["--practitioner", "p1"]), ("rita", ["--practitioner", "p2", "--role", "researcher"]),
                        ("pat", ["--patient", "1"])):
        result = CliRunner().invoke(cli, ["users", "add", name, "--password-stdin", "--database", database_url,
                                          *extra], input="a long enough password 1\n")
        assert result.exit_code == 0, result.output


def test_explain_names_the_permitting_and_denying_rules(database_url: str) -> None:
    _users(database_url)
    code, out = _explain(database_url, "--user", "dr", "--request", "GET /fhir/Observation?patient=1")
    assert code == 0, out
    assert "Purpose of use: TREAT (the default: direct care)." in out
    assert "Permitted by the scope user/*.rs." in out and out.rstrip().endswith("PERMITTED")

    code, out = _explain(database_url, "--user", "rita", "--request", "GET /fhir/Observation?patient=1")
    assert code == 1 and "the researcher role has no direct-care access" in out

    code, out = _explain(database_url, "--user", "rita", "--request", "GET /fhir/Observation", "--purpose", "HRESCH")
    assert code == 0 and "National Data Opt-out: patients with an active research-scope Consent" in out

    code, out = _explain(database_url, "--user", "pat", "--request", "GET /fhir/Observation")
    assert code == 0 and "Confined to Patient/1's compartment" in out

    code, out = _explain(database_url, "--user", "pat", "--request", "DELETE /fhir/Observation/9")
    assert code == 1 and "do not allow 'd' on Observation" in out

    code, out = _explain(database_url, "--user", "dr", "--request", "GET /fhir/Patient/1", "--purpose", "ETREAT")
    assert code == 1 and "X-Break-Glass-Reason" in out

    code, out = _explain(database_url, "--user", "dr", "--request", "GET /fhir/Patient/1", "--purpose", "ETREAT",
                         "--reason", "cardiac arrest")
    assert code == 0 and 'reason "cardiac arrest"' in out

    code, out = _explain(database_url, "--user", "dr", "--request", "GET /fhir/Patient/1", "--purpose", "BOGUS")
    assert code == 1 and "not a v3 PurposeOfUse code" in out

    code, out = _explain(database_url, "--user", "nobody", "--request", "GET /fhir/Patient/1")
    assert code == 2 and "no user named" in out
