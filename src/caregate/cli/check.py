"""`caregate check`: run the standards checker against any FHIR R4 server and write its reports."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from caregate.check.registry import SUITES

_STYLE = {"pass": "green", "fail": "bold red", "skip": "yellow", "error": "bold magenta"}


@click.command()
@click.argument("base_url")
@click.option("--token", envvar="CAREGATE_CHECK_TOKEN", default=None,
              help="Bearer access token for the server  [env: CAREGATE_CHECK_TOKEN]")
@click.option("--patient-token", envvar="CAREGATE_CHECK_PATIENT_TOKEN", default=None,
              help="A token for one patient (patient/*.rs): probes that it reaches no other patient's data")
@click.option("--client-id", help="SMART Backend Services client id (with --private-key): get a token by itself")
@click.option("--private-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="PEM private key (RSA or EC P-384) registered for --client-id")
@click.option("--key-id", help="kid of the registered key (default: its RFC 7638 thumbprint)")
@click.option("--scope", help="scopes to ask for with --client-id (default: system/*.rs; system/*.read for SMART v1)")
@click.option("--suite", "suites", multiple=True, type=click.Choice(SUITES), help="Run only these suites (repeatable)")
@click.option("--read-only", is_flag=True, help="Never write: only what can be checked by reading")
@click.option("--evidence-bodies/--no-evidence-bodies", default=None,
              help="Keep response bodies in the evidence (default: yes, but no in --read-only mode, where they are "
                   "real records)")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the HTML report here")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write the JUnit XML report")
@click.option("--receiver-host", default="127.0.0.1", show_default=True,
              help="Address the subscription test's loopback receiver listens on")
def check(base_url: str, token: str | None, patient_token: str | None, client_id: str | None,
          private_key: Path | None, key_id: str | None,
          scope: str | None, suites: tuple[str, ...], read_only: bool, evidence_bodies: bool | None,
          report: Path | None, json_path: Path | None,
          junit: Path | None, receiver_host: str) -> None:
    """Check the FHIR R4 server at BASE_URL against the open standards; exit 1 when a mandatory test fails."""
    from caregate.check import reports
    from caregate.check.backend import BackendCredentials
    from caregate.check.client import FhirClient
    from caregate.check.context import CheckContext
    from caregate.check.html import write_html
    from caregate.check.registry import all_tests
    from caregate.check.runner import fetch_capability, run

    console = Console(stderr=True)
    if bool(client_id) != bool(private_key):
        raise click.UsageError("--client-id and --private-key go together")
    backend = BackendCredentials(client_id, private_key.read_bytes(), key_id, scope) if client_id and private_key \
        else None
    keep_bodies = not read_only if evidence_bodies is None else evidence_bodies
    client = FhirClient(base_url, token=token, read_only=read_only, keep_bodies=keep_bodies)
    tests = all_tests(suites)
    try:
        ctx = CheckContext(client, fetch_capability(client), read_only=read_only, receiver_host=receiver_host,
                           backend=backend, patient_token=patient_token)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                      transient=True) as progress:
            task = progress.add_task("checking", total=len(tests))

            def shown(result) -> None:
                if result.verdict.value in ("fail", "error"):
                    level = "mandatory" if result.mandatory else "optional"
                    progress.console.print(f"[{_STYLE[result.verdict.value]}]{result.verdict.value}[/] "
                                           f"{result.test.id} ({level}): {result.message}", markup=True,
                                           highlight=False)
                progress.update(task, advance=1, description=result.test.id)

            outcome = run(ctx, tests, shown)
        if "backend" in ctx.notes:
            console.print(ctx.notes["backend"])
    finally:
        client.close()
    table = Table(title=f"caregate check {base_url}")
    for column in ("suite", "tests", "pass", "fail", "error", "skip", "score"):
        table.add_column(column)
    for s in reports.suite_scores(outcome):
        table.add_row(s["suite"], str(s["tests"]), str(s["pass"]), str(s["fail"]), str(s["error"]), str(s["skip"]),
                      "-" if s["score"] is None else f"{s['score']}%")
    console.print(table)
    for finding in outcome.findings:
        console.print(f"[bold red]{finding}[/]")
    if json_path:
        reports.write_json(outcome, json_path)
    if junit:
        reports.write_junit(outcome, junit)
    if report:
        write_html(outcome, report)
    failed = outcome.failed_mandatory()
    if failed:
        console.print(f"[bold red]{len(failed)} mandatory test(s) failed[/]")
        sys.exit(1)
    console.print("[green]every mandatory test passed[/]")
