"""`caregate load` leaves the planner statistics fresh: what `pg_stats` or `sqlite_stat1` show for the tables the
load filled, so searches after a bulk load are planned for the data that is there (not for empty tables)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
from click.testing import CliRunner

from caregate.cli.main import cli
from caregate.storage.sqlite import path_from_url
from tests.bulkload.conftest import encounter, practitioner, write_ndjson

FILLED = {"resources", "history", "idx_ref", "idx_token"}


def _tables_with_statistics(url: str) -> set[str]:
    if url.startswith("sqlite"):
        with sqlite3.connect(path_from_url(url)) as conn:
            return {t for (t,) in conn.execute("SELECT DISTINCT tbl FROM sqlite_stat1")}
    with psycopg.connect(url) as conn:
        return {t for (t,) in conn.execute("SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = 'public'")}


def test_load_leaves_statistics_on_the_tables_it_filled(tmp_path: Path, database_url: str) -> None:
    people = [practitioner(str(n), f"doc{n}") for n in range(30)]
    visits = [encounter(f"e{n}", f"Practitioner/doc{n % 30}") for n in range(60)]
    f = write_ndjson(tmp_path / "data.ndjson", *people, *visits)

    result = CliRunner().invoke(cli, ["load", str(f), "--database", database_url])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Loaded 90 resources from 1 file; 0 failed")
    assert _tables_with_statistics(database_url) >= FILLED
    again = CliRunner().invoke(cli, ["load", str(f), "--database", database_url])  # a second run updates them
    assert again.exit_code == 0, again.output
    assert _tables_with_statistics(database_url) >= FILLED
