"""`caregate policy check FILE`: validate an access policy file the way `caregate serve --policy` does."""

from __future__ import annotations

import click


@click.group()
def policy() -> None:
    """Access policy files (roles, purposes, relationships, sensitivity labels)."""


@policy.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def policy_check(file: str) -> None:
    """Say whether FILE is a valid policy, or every problem in it (exit status 1)."""
    from caregate.policy.rules import PolicyError, load_policy

    try:
        checked = load_policy(file)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise SystemExit(1) from None
    click.echo(f"{file}: valid: {len(checked.roles)} roles ({', '.join(checked.roles)}), "
               f"{len(checked.labels)} labels ({', '.join(checked.labels) or 'none'}).")


@policy.command("show-default")
def policy_show_default() -> None:
    """Print the built-in policy (what applies with no --policy), to start a file of your own from."""
    from caregate.policy.rules import default_text

    click.echo(default_text(), nl=False)
