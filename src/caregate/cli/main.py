"""Entry point of the `caregate` command."""

from __future__ import annotations

import click

from caregate import __version__
from caregate.cli.access import access
from caregate.cli.audit import audit
from caregate.cli.auth import clients, launch, token, users
from caregate.cli.check import check
from caregate.cli.explain import explain
from caregate.cli.load import load
from caregate.cli.policy import policy
from caregate.cli.serve import serve
from caregate.cli.subscriptions import subscriptions
from caregate.cli.synth import synth
from caregate.cli.terminology import terminology
from caregate.cli.validate import validate


@click.group()
@click.version_option(__version__, prog_name="caregate")
def cli() -> None:
    """caregate: an open-standards FHIR R4 health and care data platform."""


cli.add_command(serve)
cli.add_command(synth)
cli.add_command(load)
cli.add_command(explain)
cli.add_command(subscriptions)
cli.add_command(clients)
cli.add_command(users)
cli.add_command(token)
cli.add_command(launch)
cli.add_command(check)
cli.add_command(validate)
cli.add_command(audit)
cli.add_command(access)
cli.add_command(policy)
cli.add_command(terminology)


def main() -> None:
    cli()
