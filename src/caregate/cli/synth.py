"""`caregate synth`: synthetic UK patients, to a folder or straight into the store."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from rich.progress import Progress

from caregate.cli.options import database_option


def _load_bundles(url: str, bundles, total: int | None = None) -> int:
    import asyncio

    from caregate.interactions.context import RequestContext
    from caregate.interactions.transaction import transaction
    from caregate.search.registry import default_registry
    from caregate.storage import open_store

    store = open_store(url)
    ctx = RequestContext(store, default_registry(), "")
    count = 0

    async def run() -> None:
        nonlocal count
        with Progress(transient=True) as progress:
            task = progress.add_task("Loading synthetic patients", total=total)
            for bundle in bundles:
                await transaction(ctx, bundle)
                count += len(bundle.get("entry", []))
                progress.advance(task)
        await store.close()

    asyncio.run(run())
    return count


def load_demo(url: str, patients: int) -> None:
    """Load `patients` demo patients unless the store already holds patients."""
    import asyncio

    from caregate.search.query import SearchQuery
    from caregate.storage import open_store
    from caregate.synth import generate

    store = open_store(url)

    async def count() -> int:
        page = await store.search(SearchQuery("Patient", summary="count"))
        await store.close()
        return page.total or 0

    if asyncio.run(count()) > 0:
        return
    n = _load_bundles(url, generate(patients, seed=1), patients + 1)
    logging.getLogger("caregate").info("demo data loaded", extra={"fields": {"resources": n, "patients": patients}})


@click.command()
@click.option("--patients", type=int, default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same data.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write NDJSON files here instead of loading into the store.")
@database_option
def synth(patients: int, seed: int, out: Path | None, database: str | None) -> None:
    """Generate synthetic UK patients with valid test NHS numbers."""
    from caregate.config import Settings
    from caregate.synth import generate, write_ndjson

    bundles = generate(patients, seed=seed)
    if out is not None:
        counts = write_ndjson(bundles, out)
        click.echo(f"wrote {sum(counts.values())} resources in {len(counts)} files to {out}")
        return
    url = Settings.from_env(database_url=database).database_url
    n = _load_bundles(url, bundles, patients + 1)
    click.echo(f"loaded {n} resources ({patients} patients)")
