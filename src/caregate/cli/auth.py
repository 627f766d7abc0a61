"""Operator commands for secure login: `caregate clients`, `caregate users` and `caregate token issue`.

They act on the database directly (the same `--database URL` as `serve`), so they need no token: whoever can
run them can already read the database.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from caregate.cli.options import database_option


def _service(database: str | None, base_url: str | None = None):
    from caregate.auth.service import AuthService
    from caregate.config import Settings

    settings = Settings.from_env(database_url=database)
    try:
        base = base_url or settings.base_url or AuthService.remembered_base(settings.database_url) \
            or settings.fhir_base
        return AuthService(settings.database_url, base)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--database") from None


@click.group()
def clients() -> None:
    """Register, list and remove OAuth clients (apps and backend services)."""


@clients.command("add")
@click.option("--name", required=True, help="What the app is called (shown on the consent page).")
@click.option("--client-id", default=None, help="The id to give it (default: a random one).")
@click.option("--jwks", "jwks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A JWK Set file with the client's public keys: it signs its own JWTs (private_key_jwt).")
@click.option("--jwks-uri", default=None, help="Where the client publishes its JWK Set instead.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="An exact redirect URI (repeatable).")
@click.option("--scope", required=True, help='The scopes it may be granted, e.g. "system/*.rs".')
@database_option
def clients_add(name: str, client_id: str | None, jwks_file: Path | None, jwks_uri: str | None,
                redirect_uris: tuple[str, ...], scope: str, database: str | None) -> None:
    """Register a client; prints its client_id."""
    from caregate.policy.scopes import ScopeError, parse_scopes

    try:
        parse_scopes(scope)
    except ScopeError as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from None
    jwks = None
    if jwks_file is not None:
        try:
            jwks = json.loads(jwks_file.read_text())
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--jwks") from None
        if not isinstance(jwks, dict):
            raise click.BadParameter("a JWK Set is a JSON object", param_hint="--jwks")
    try:
        client = _service(database).clients.add(name, scope, client_id=client_id, jwks=jwks, jwks_uri=jwks_uri,
                                                redirect_uris=redirect_uris)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(client.client_id)


@clients.command("list")
@database_option
def clients_list(database: str | None) -> None:
    """The registered clients: id, name, how they authenticate, scopes."""
    for c in _service(database).clients.list():
        kind = "private_key_jwt" if not c.public else "public"
        click.echo(f"{c.client_id}\t{c.name}\t{kind}\t{c.scope}")


@clients.command("remove")
@click.argument("client_id")
@database_option
def clients_remove(client_id: str, database: str | None) -> None:
    """Remove a client: it can no longer obtain tokens."""
    if not _service(database).clients.remove(client_id):
        raise click.ClickException(f"No client with id {client_id!r}.")
    click.echo(f"removed {client_id}")


@click.group()
def users() -> None:
    """Add, list and disable the people who sign in."""


@users.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--patient", default=None, metavar="ID", help="A patient user: their Patient resource id.")
@click.option("--practitioner", default=None, metavar="ID", help="A staff user: their Practitioner id.")
@click.option("--org", default=None, metavar="ODS", help="The staff user's organisation (ODS code).")
@click.option("--role", "roles", multiple=True, metavar="CODE",
              help="A national RBAC job-role code (e.g. R8000) or researcher/admin (repeatable).")
@click.option("--totp", is_flag=True, help="Require an authenticator-app code at sign-in; prints the secret, "
                                           "its otpauth:// URI and recovery codes once.")
@click.option("--proofing", type=click.Choice(["P0", "P5", "P9"]), default="P0", show_default=True,
              help="How strongly the person's identity was checked (NHS login levels); tokens carry it.")
@database_option
def users_add(name: str, password_stdin: bool, patient: str | None, practitioner: str | None, org: str | None,
              roles: tuple[str, ...], totp: bool, proofing: str, database: str | None) -> None:
    """Add a user (a patient or a member of staff)."""
    if patient and (practitioner or org):
        raise click.UsageError("--patient and --practitioner/--org describe different kinds of user.")
    if org and not practitioner:
        raise click.UsageError("--org goes with --practitioner.")
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("No password was given on standard input.")
    service = _service(database)
    try:
        service.users.add(name, password, patient=patient, practitioner=practitioner, org=org, roles=roles,
                          proofing=proofing)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"added {name}")
    if totp:
        secret, uri, codes = service.second_factor.enrol(name)
        click.echo(f"authenticator secret: {secret}")
        click.echo(f"authenticator URI: {uri}")
        click.echo("recovery codes (each works once): " + " ".join(codes))


@users.command("list")
@database_option
def users_list(database: str | None) -> None:
    """The users: name, linked resource, organisation, roles, and whether disabled."""
    for u in _service(database).users.list():
        state = "disabled" if u.disabled else "active"
        click.echo(f"{u.name}\t{u.fhir_user or '-'}\t{u.org or '-'}\t{','.join(u.roles) or '-'}\t{state}")


@users.command("disable")
@click.argument("name")
@database_option
def users_disable(name: str, database: str | None) -> None:
    """Disable a user: they can no longer sign in."""
    if not _service(database).users.disable(name):
        raise click.ClickException(f"No user named {name!r}.")
    click.echo(f"disabled {name}")


@click.group()
def token() -> None:
    """Issue access tokens directly, for automation and tests."""


@token.command("issue")
@click.option("--client", "client_id", required=True, help="The registered client the token is for.")
@click.option("--user", default=None, help="Act for this user.")
@click.option("--patient", default=None, metavar="ID", help="Patient in context (patient/ scopes reach only them).")
@click.option("--scope", required=True, help="The scopes asked for; only those registered are granted.")
@click.option("--minutes", type=click.IntRange(1, 24 * 60), default=60, show_default=True,
              help="How long the token lives.")
@click.option("--base-url", envvar="CAREGATE_BASE_URL", default=None,
              help="The FHIR base the token is for (default: the one the server last ran with).")
@database_option
def token_issue(client_id: str, user: str | None, patient: str | None, scope: str, minutes: int,
                base_url: str | None, database: str | None) -> None:
    """Print a signed access token (the last word of the output), as the token endpoint would give it."""
    from caregate.auth.service import GrantRefused

    service = _service(database, base_url)
    try:
        signed, claims = service.issue(client_id, scope, user=user, patient=patient, lifetime=minutes * 60)
    except GrantRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"# scope: {claims['scope']}", err=True)
    click.echo(signed)


@click.group()
def launch() -> None:
    """EHR launch contexts: what an app started from a patient's record is told about it."""


@launch.command("create")
@click.option("--client", "client_id", required=True, help="The registered app being launched.")
@click.option("--patient", required=True, metavar="ID", help="The patient whose record is open.")
@click.option("--encounter", default=None, metavar="ID", help="The encounter in context, if any.")
@database_option
def launch_create(client_id: str, patient: str, encounter: str | None, database: str | None) -> None:
    """Print a launch id (the last word of the output) to pass to the app as its `launch` parameter; it works
    for that app only, for five minutes."""
    from caregate.auth.launches import LAUNCH_LIFETIME

    service = _service(database)
    if service.clients.get(client_id) is None:
        raise click.ClickException(f"No client with id {client_id!r} is registered.")
    click.echo(f"# valid for {LAUNCH_LIFETIME // 60} minutes, for client {client_id}", err=True)
    click.echo(service.launches.create(client_id, patient, encounter))
