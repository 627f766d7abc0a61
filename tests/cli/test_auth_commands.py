"""`caregate clients`, `caregate users` and `caregate token issue` act on the database directly, on both engines."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from joserfc import jwk, jwt

from caregate.auth.service import AuthService
from caregate.cli.main import cli


def _run(*args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def _fails(*args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    assert result.exit_code != 0
    return result.output


def test_clients_add_list_remove(database_url: str, tmp_path: Path) -> None:
    db = ("--database", database_url)
    key = jwk.ECKey.generate_key("P-384", parameters={"kid": "k"})
    (tmp_path / "keys.json").write_text(json.dumps({"keys": [dict(key.as_dict(private=False))]}))
    assert _run("clients", "add", "--name", "Lab", "--client-id", "lab", "--jwks", str(tmp_path / "keys.json"),
                "--scope", "system/*.rs", *db).strip() == "lab"
    generated = _run("clients", "add", "--name", "App", "--redirect-uri", "https://app.example/cb",
                     "--scope", "patient/*.rs launch/patient", *db).strip()
    listing = _run("clients", "list", *db)
    assert "lab\tLab\tprivate_key_jwt\tsystem/*.rs" in listing
    assert f"{generated}\tApp\tpublic" in listing
    assert "already exists" in _fails("clients", "add", "--name", "Again", "--client-id", "lab", "--scope",
                                      "system/*.rs", *db)
    assert "not a SMART scope" in _fails("clients", "add", "--name", "Bad", "--scope", "patient/Observation", *db)
    _run("clients", "remove", "lab", *db)
    assert "lab\t" not in _run("clients", "list", *db)
    assert "No client" in _fails("clients", "remove", "lab", *db)


def test_users_add_list_disable(database_url: str) -> None:
    db = ("--database", database_url)
    _run("users", "add", "pat", "--password-stdin", "--patient", "p1", *db, stdin="s3cret words\n")
    _run("users", "add", "doc", "--practitioner", "pr1", "--org", "A81001", "--role", "R8000", "--role", "admin",
         *db)
    listing = _run("users", "list", *db)
    assert "pat\tPatient/p1\t-\t-\tactive" in listing
    assert "doc\tPractitioner/pr1\tA81001\tR8000,admin\tactive" in listing
    assert "s3cret" not in listing
    _fails("users", "add", "both", "--patient", "p1", "--practitioner", "x", *db)
    _run("users", "disable", "pat", *db)
    assert "pat\tPatient/p1\t-\t-\tdisabled" in _run("users", "list", *db)


def test_token_issue_grants_only_registered_scopes(database_url: str) -> None:
    db = ("--database", database_url)
    _run("clients", "add", "--name", "App", "--client-id", "app", "--scope", "patient/*.rs user/Patient.r", *db)
    _run("users", "add", "pat", "--patient", "p1", *db)
    out = _run("token", "issue", "--client", "app", "--user", "pat", "--scope", "patient/*.rs system/*.cruds",
               "--base-url", "http://127.0.0.1:9999/fhir", *db)
    token = out.split()[-1]
    (key,) = AuthService(database_url, "http://127.0.0.1:9999/fhir").keys.public_keys().values()
    claims = jwt.decode(token, key, algorithms=["RS256"]).claims
    assert claims["scope"] == "patient/*.rs" and claims["patient"] == "p1" and claims["fhirUser"] == "Patient/p1"
    assert claims["aud"] == "http://127.0.0.1:9999/fhir" and claims["iss"] == "http://127.0.0.1:9999"
    assert claims["exp"] - claims["iat"] == 3600
    as_patient = _run("token", "issue", "--client", "app", "--patient", "p2", "--scope", "patient/*.rs",
                      "--minutes", "5", *db).split()[-1]
    assert as_patient.count(".") == 2
    assert "None of the requested scopes" in _fails("token", "issue", "--client", "app", "--scope", "system/*.rs",
                                                    *db)
    assert "No client" in _fails("token", "issue", "--client", "nobody", "--scope", "patient/*.rs", *db)


def test_launch_create_prints_a_launch_bound_to_the_client(database_url: str) -> None:
    db = ("--database", database_url)
    _run("clients", "add", "--name", "Ward app", "--client-id", "ward", "--redirect-uri", "https://app.example/cb",
         "--scope", "launch patient/*.rs", *db)
    launch = _run("launch", "create", "--client", "ward", "--patient", "alice", "--encounter", "e1", *db).split()[-1]
    service = AuthService(database_url, "http://localhost:8080/fhir")
    context = service.launches.resolve(launch, "ward")
    assert context is not None and (context.patient, context.encounter) == ("alice", "e1")
    assert service.launches.resolve(launch, "another") is None
    assert "No client" in _fails("launch", "create", "--client", "nobody", "--patient", "alice", *db)
