"""`caregate terminology load-snomed DIR`: load a SNOMED CT RF2 release the user holds a licence for.

caregate ships no SNOMED CT content. Once a release's Snapshot files are loaded into the server's database,
the terminology operations, validation bindings and token `:below`/`:above` searches use it; a server that is
already running notices within a few seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from caregate.cli.options import database_option

_STAGES = {"concept": "concepts", "language": "language", "description": "descriptions",
           "relationship": "relationships", "closure": "is-a closure"}


class _Bar:
    """One Rich bar per RF2 file kind (bytes read), and one for building the closure."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(TextColumn("{task.description:<14}"), BarColumn(), DownloadColumn(),
                                 TimeElapsedColumn(), console=console, transient=True,
                                 disable=not console.is_terminal)
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        task = self.tasks.get(stage)
        if task is None:
            task = self.tasks[stage] = self.progress.add_task(_STAGES.get(stage, stage), total=total or None)
        if stage == "closure" and total:
            return
        self.progress.advance(task, done)


@click.group()
def terminology() -> None:
    """Terminology content the user provides (SNOMED CT)."""


@terminology.command("load-snomed")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@database_option
def load_snomed(folder: Path, database: str | None) -> None:
    """Load the Snapshot files of a SNOMED CT RF2 release under FOLDER, replacing any release loaded before.

    Reads sct2_Concept_Snapshot, sct2_Description_Snapshot, sct2_Relationship_Snapshot (active rows; the
    hierarchy from 116680003 |Is a|) and, when present, the language reference set that picks each
    concept's preferred term. All in one transaction: on any problem nothing changes.
    """
    from caregate.config import Settings
    from caregate.storage.snomed_load import Rf2Error, load_release

    url = Settings.from_env(database_url=database).database_url
    console = Console(stderr=True)
    bar = _Bar(console)
    started = time.perf_counter()
    try:
        with bar.progress:
            counts = load_release(url, folder, progress=bar)
    except Rf2Error as exc:
        raise click.BadParameter(str(exc), param_hint="FOLDER") from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--database") from None
    click.echo(f"Loaded SNOMED CT {counts['version']}: {counts['concepts']:,} concepts, "
               f"{counts['descriptions']:,} descriptions, {counts['isa']:,} is-a relationships, "
               f"{counts['closure']:,} closure rows ({time.perf_counter() - started:.1f} s)")
