"""`caregate explain` prints the one SQL query of a search and the engine's plan for it, on both engines."""

from __future__ import annotations

from click.testing import CliRunner

from caregate.cli.main import cli


def test_explain_prints_sql_and_plan(database_url: str) -> None:
    result = CliRunner().invoke(cli, ["explain", "Observation?code=http://loinc.org|8867-4&date=ge2024",
                                      "--database", database_url])
    assert result.exit_code == 0, result.output
    sql = result.output.split("-- SQL\n")[1].split("\n")[0]
    assert sql.startswith("SELECT") and sql.count("SELECT r.rid") == 1
    assert "idx_token" in sql and "idx_date" in sql
    plan = result.output.split("-- plan\n")[1]
    assert ("idx_token_p" in plan) or ("Index" in plan) or ("Scan" in plan) or ("SCAN" in plan)


def test_explain_reports_bad_searches_clearly(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["explain", "Patient?nonsense=1", "--database", sqlite_url])
    assert result.exit_code != 0
    assert "Unknown search parameter 'nonsense'" in result.output
