"""`caregate audit verify`: prove the audit chain or name the first broken record."""

from __future__ import annotations

import sys

import click

from caregate.cli.options import database_option


@click.group()
def audit() -> None:
    """The tamper-evident audit trail of every FHIR interaction."""


@audit.command("verify")
@database_option
def verify(database: str | None) -> None:
    """Recompute the hash chain from the first record; exit 1 naming the first broken record."""
    from caregate.audit import AuditLog
    from caregate.config import Settings

    settings = Settings.from_env(database_url=database)
    try:
        log = AuditLog(settings.database_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--database") from None
    try:
        count, broken = log.verify()
    finally:
        log.close()
    if broken is not None:
        click.echo(f"audit chain BROKEN at record {broken.seq} ({count} records before it hold): {broken.reason}")
        sys.exit(1)
    click.echo(f"audit chain intact: {count} records")
