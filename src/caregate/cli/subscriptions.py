"""`caregate subscriptions list|status|replay`: topic-based subscriptions, read straight from the store.

The commands derive events from the change log exactly as the server does (the same event numbers), so
they work with the server running or not. See the Subscriptions R5 Backport IG
(http://hl7.org/fhir/uv/subscriptions-backport/) for `$status` and `$events`, which `status` and `replay`
print.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import click
import orjson

from caregate.cli.options import database_option

if TYPE_CHECKING:
    from caregate.subscriptions.service import SubscriptionService

T = TypeVar("T")


def _run(database: str | None, work: Callable[[SubscriptionService], Awaitable[T]]) -> T:
    """Open the store, run `work` with a service that never delivers on its own, close the store."""
    from caregate.config import Settings
    from caregate.errors import FhirError
    from caregate.policy.rules import PolicyError, load_policy
    from caregate.search.registry import default_registry
    from caregate.storage import open_store
    from caregate.subscriptions.lease import LocalLease
    from caregate.subscriptions.service import SubscriptionService

    settings = Settings.from_env(database_url=database)
    try:
        rules = load_policy(settings.policy)  # owners' notifications are bounded as the server bounds them
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        store = open_store(settings.database_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--database") from None

    async def go() -> T:
        service = SubscriptionService(store, default_registry(), settings.fhir_base, settings.database_url,
                                      lease=LocalLease(), rules=rules)
        try:
            return await work(service)
        finally:
            await service.stop()
            await store.close()

    try:
        return asyncio.run(go())
    except FhirError as exc:
        raise click.ClickException(exc.message) from None


def _echo_json(body: dict) -> None:
    click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())


@click.group()
def subscriptions() -> None:
    """Topic-based subscriptions (Subscriptions R5 Backport IG on R4): list, status, replay."""


@subscriptions.command("list")
@database_option
@click.option("--topics", is_flag=True, help="List the topics the server offers instead, with their filters.")
def list_(database: str | None, topics: bool) -> None:
    """One line per subscription: id, status, channel, topic, events so far, endpoint."""

    async def work(service: SubscriptionService) -> list[str]:
        if topics:
            return [f"{service.catalog.url_of(t)}\t{t.title}\tfilters: "
                    + "; ".join(f"{rtype}: {', '.join(codes)}" for rtype, codes in t.filters.items())
                    for t in service.catalog.topics]
        await service.index.catch_up()
        rows = [("ID", "STATUS", "CHANNEL", "TOPIC", "EVENTS", "ENDPOINT")]
        for sub in sorted(service.index.subs.values(), key=lambda s: s.spec.id):
            spec = sub.spec
            topic = spec.topic.name if spec.topic else spec.topic_url
            rows.append((spec.id, spec.status, spec.channel, topic, str(sub.count), spec.endpoint))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        return ["  ".join(v.ljust(w) for v, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]

    for line in _run(database, work):
        click.echo(line)


@subscriptions.command("status")
@click.argument("ids", nargs=-1)
@database_option
def status(ids: tuple[str, ...], database: str | None) -> None:
    """The `$status` Bundle of the subscriptions IDS (all when none are named), as JSON."""
    _echo_json(_run(database, lambda service: service.status(list(ids) or None)))


@subscriptions.command("replay")
@click.argument("sub_id", metavar="ID")
@database_option
@click.option("--since", "since", type=click.IntRange(1), default=None, help="First event number (default 1).")
@click.option("--until", "until", type=click.IntRange(1), default=None, help="Last event number (default: newest).")
@click.option("--content", type=click.Choice(["empty", "id-only", "full-resource"]), default=None,
              help="Payload content (default: the subscription's own).")
@click.option("--deliver", is_flag=True, help="POST the events to the rest-hook endpoint again instead of printing.")
def replay(sub_id: str, database: str | None, since: int | None, until: int | None, content: str | None,
           deliver: bool) -> None:
    """Print the `$events` Bundle of subscription ID (events SINCE..UNTIL), or send them again with --deliver."""
    low = str(since) if since is not None else None
    high = str(until) if until is not None else None
    if deliver:
        sent = _run(database, lambda service: service.redeliver(sub_id, low, high))
        click.echo(f"Delivered {sent} events to Subscription/{sub_id}'s endpoint.")
        return
    _echo_json(_run(database, lambda service: service.events(sub_id, low, high, content)))
