"""`caregate explain "Observation?code=...&date=ge2024"`: the SQL a search compiles to, and the engine's plan.

Each search is one SQL query (plus one per include level); seeing it and its plan is how a slow search is
understood, on either engine.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import click

from caregate.cli.options import database_option


@click.command()
@click.argument("search")
@database_option
@click.option("--analyze", is_flag=True, help="PostgreSQL: run the query and show real timings (EXPLAIN ANALYZE).")
def explain(search: str, database: str | None, analyze: bool) -> None:
    """Print the SQL of SEARCH (e.g. "Patient?family=smith&birthdate=ge1970") and its query plan."""
    from caregate.config import Settings
    from caregate.errors import FhirError
    from caregate.search.query import parse
    from caregate.search.registry import default_registry
    from caregate.storage.sql.compiler import compile_page, compile_sorted_page
    from caregate.storage.sql.dialect import POSTGRES, SQLITE

    path, _, qs = search.lstrip("/").partition("?")
    type_ = path.split("/")[-1] or None
    try:
        query = parse(type_, parse_qsl(qs, keep_blank_values=True), default_registry(), strict=True)
    except FhirError as exc:
        raise click.ClickException(str(exc)) from exc
    url = Settings.from_env(database_url=database).database_url
    dialect = SQLITE if url.startswith("sqlite") else POSTGRES
    size = (query.count or 20) + 1
    if query.sort:
        compiled = compile_sorted_page(query, limit=size, offset=0,
                                       json_col=dialect.json_select)
    else:
        compiled = compile_page(query, limit=size, after=None, before=None,
                                json_col=dialect.json_select)
    sql = dialect.sql(compiled.sql)
    click.echo("-- SQL")
    click.echo(sql)
    click.echo(f"-- parameters: {list(compiled.args)!r}")
    click.echo("-- plan")
    if dialect is SQLITE:
        import sqlite3

        from caregate.storage.sqlite import SqliteStore, path_from_url

        SqliteStore(path_from_url(url)).conn.close()  # create or migrate the schema first
        conn = sqlite3.connect(path_from_url(url))
        depth: dict[int, int] = {0: -1}
        for node, parent, _, detail in conn.execute("EXPLAIN QUERY PLAN " + sql, compiled.args):
            depth[node] = depth.get(parent, -1) + 1
            click.echo("  " * depth[node] + detail)
        conn.close()
    else:
        import psycopg

        from caregate.storage.postgres import PostgresStore

        PostgresStore(url, max_size=1).pool.close()
        with psycopg.connect(url) as conn:
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
            for (line,) in conn.execute(prefix + sql, compiled.args):
                click.echo(line)
