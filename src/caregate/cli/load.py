"""`caregate load FILE...`: FHIR resources, Bundles and NDJSON (bulk export) files into the store.

Problems go to stderr as `FILE:LINE: message`, one per record that was not loaded, while the rest load;
the final count goes to stdout. The exit status is 1 when any record failed, so scripts and CI can tell.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from caregate.cli.options import database_option

if TYPE_CHECKING:
    from caregate.storage.base import ResourceStore


class _Bar:
    """The Rich progress display: one bar per pass over the files, measured in bytes read."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<9}"), BarColumn(), DownloadColumn(),
            TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
            console=console, transient=True, disable=not console.is_terminal,
        )
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int, loaded: int) -> None:
        task = self.tasks.get(phase)
        if task is None:
            task = self.tasks[phase] = self.progress.add_task(phase, total=total, info="")
        info = f"{loaded:,} resources" if phase == "Loading" else ""
        self.progress.update(task, completed=done, info=info)


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, readable=True, path_type=Path))
@database_option
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Resources written per database transaction.")
def load(files: tuple[Path, ...], database: str | None, batch_size: int) -> None:
    """Load FHIR JSON resources, Bundles (transaction, batch, collection) or NDJSON files.

    FILES may be .json, .ndjson or .jsonl, gzipped or not, or folders of them. Conditional references
    (Practitioner?identifier=system|value, as Synthea writes them) are resolved against all the files
    and the store. Resources keep their ids, so loading the same files twice gives the same result.
    At the end the database's planner statistics are refreshed (ANALYZE) for the tables the load filled.
    """
    from caregate.bulkload import Problem, load_files
    from caregate.config import Settings
    from caregate.storage import open_store

    url = Settings.from_env(database_url=database).database_url
    console = Console(stderr=True)
    bar = _Bar(console)

    def report(problem: Problem) -> None:
        console.print(str(problem), markup=False, highlight=False, soft_wrap=True, style="red")

    try:
        store = open_store(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--database") from None
    try:
        with bar.progress:
            summary = load_files(store, files, report=report, progress=bar,  # type: ignore[arg-type]
                                 batch_size=batch_size)
    finally:
        _close(store)
    rate = f" ({summary.seconds:.1f} s, {summary.rate:,.0f} resources/s)" if summary.loaded else ""
    plural = "" if summary.files == 1 else "s"
    click.echo(f"Loaded {summary.loaded} resources from {summary.files} file{plural}; "
               f"{summary.failed} failed{rate}")
    if summary.failed:
        raise click.exceptions.Exit(1)


def _close(store: ResourceStore) -> None:
    import asyncio

    asyncio.run(store.close())
