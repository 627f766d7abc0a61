"""`caregate access explain`: which rule permits or denies a request, in plain words, for an operator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from caregate.cli.options import database_option

if TYPE_CHECKING:
    from caregate.policy import Actor
    from caregate.policy.explain import Explanation
    from caregate.policy.rules import Policy


@click.group()
def access() -> None:
    """Inspect access decisions."""


def _with_record(database: str | None, actor: Actor, method: str, path: str, purpose: str | None, rules: Policy,
                 result: Explanation) -> Explanation:
    import asyncio

    from caregate.config import Settings
    from caregate.interactions.access_facts import record_steps
    from caregate.search.registry import default_registry
    from caregate.storage import open_store

    async def run() -> Explanation:
        store = open_store(Settings.from_env(database_url=database).database_url)
        try:
            return await record_steps(store, default_registry(), actor, method, path, purpose, rules, result)
        finally:
            await store.close()

    return asyncio.run(run())


@access.command("explain")
@click.option("--user", required=True, help="The user asking (as added with `caregate users add`).")
@click.option("--request", "request", required=True, metavar='"METHOD PATH"',
              help='The request, e.g. "GET /fhir/Observation?patient=1".')
@click.option("--purpose", default=None, help="The X-Purpose-Of-Use asserted (default: TREAT).")
@click.option("--reason", default=None, help="The X-Break-Glass-Reason, with --purpose ETREAT.")
@click.option("--scope", default=None,
              help='The scopes of the token used (default: "patient/*.rs" for a patient user, else "user/*.rs").')
@click.option("--policy", "policy_file", default=None, envvar="CAREGATE_POLICY", metavar="FILE",
              help="The access policy the server runs with (default: the built-in policy).")
@database_option
def access_explain(user: str, request: str, purpose: str | None, reason: str | None, scope: str | None,
                   database: str | None, policy_file: str | None) -> None:
    """Print each rule applied to the request and the verdict; exit status 1 when it would be denied."""
    from caregate.cli.auth import _service
    from caregate.policy import Actor, ScopeError
    from caregate.policy.explain import explain
    from caregate.policy.rules import PolicyError, load_policy

    try:
        rules = load_policy(policy_file)
    except PolicyError as exc:
        raise click.ClickException("the access policy is not valid:\n" + str(exc)) from None

    method, _, path = request.strip().partition(" ")
    if not path.strip().startswith("/"):
        raise click.BadParameter('give the method and the path, e.g. "GET /fhir/Patient/1".', param_hint="--request")
    person = _service(database).users.get(user)
    if person is None:
        raise click.BadParameter(f"no user named {user!r}.", param_hint="--user")
    scope = scope or ("patient/*.rs" if person.patient else "user/*.rs")
    try:
        actor = Actor.from_scope_string(person.name, "explain", scope, patient=person.patient,
                                        fhir_user=person.fhir_user, roles=person.roles, org=person.org)
    except ScopeError as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from None
    result = explain(actor, method, path.strip(), purpose, reason, rules)
    if result.allowed:  # which relationship and Consent rule decide, from the record itself
        result = _with_record(database, actor, method, path.strip(), purpose, rules, result)
    click.echo(f"{method.upper()} {path.strip()} by {user} (roles: {', '.join(person.roles) or 'none'}; "
               f"scopes: {scope})")
    for step in result.steps:
        click.echo(f"- {step}")
    click.echo("PERMITTED" if result.allowed else "DENIED")
    if not result.allowed:
        raise SystemExit(1)
