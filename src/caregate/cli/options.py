"""Options every command shares."""

from __future__ import annotations

import click

database_option = click.option(
    "--database", "database", envvar="CAREGATE_DATABASE_URL", default=None, metavar="URL",
    help="sqlite:///path (default: ./caregate.db) or postgresql://user@host/db  [env: CAREGATE_DATABASE_URL]",
)
