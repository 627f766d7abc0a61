"""`caregate validate FILE... [--profile URL]`: validate FHIR resources against the R4 base definitions.

Each file may hold one resource (JSON or XML), a Bundle (validated as one resource, entries included) or
NDJSON (one resource per line, `.ndjson`, gzipped or not). Issues are printed as
`FILE[:LINE]: severity code location: message`; `--json` prints an OperationOutcome per resource instead.
The exit status is 1 when any resource has an error (or cannot be read), so scripts and CI can tell.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import click
import orjson


def _resources(path: Path) -> Iterator[tuple[int | None, object]]:
    """(line number for NDJSON, parsed resource) for every resource in the file; raises ValueError."""
    from caregate.fhir.xmlformat import FhirFormatError, parse_xml

    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    name = path.name.removesuffix(".gz")
    if name.endswith(".ndjson"):
        for number, line in enumerate(raw.splitlines(), 1):
            if line.strip():
                try:
                    yield number, orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise ValueError(f"line {number}: not JSON ({exc.msg})") from exc
        return
    if raw.lstrip()[:1] == b"<":
        try:
            yield None, parse_xml(raw)
        except FhirFormatError as exc:
            raise ValueError(f"not valid FHIR XML: {exc.message}") from exc
        return
    try:
        yield None, orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", metavar="URL", help="Validate against this profile (StructureDefinition url).")
@click.option("--json", "as_json", is_flag=True, help="Print an OperationOutcome per resource.")
@click.option("--quiet", is_flag=True, help="Print errors only, not warnings.")
def validate(files: tuple[Path, ...], profile: str | None, as_json: bool, quiet: bool) -> None:
    """Validate FHIR R4 resources (JSON, XML or NDJSON files); exit 1 if any has an error."""
    from caregate.fhir.validate import has_errors, outcome
    from caregate.fhir.validate import validate as run

    failed = checked = 0
    for path in files:
        try:
            for line, resource in _resources(path):
                checked += 1
                issues = run(resource, profile)
                where = f"{path}:{line}" if line is not None else str(path)
                if has_errors(issues):
                    failed += 1
                if as_json:
                    click.echo(orjson.dumps(outcome(issues)).decode())
                    continue
                for issue in issues:
                    if quiet and issue.severity not in ("error", "fatal"):
                        continue
                    loc = issue.expression[0] if issue.expression else "-"
                    click.echo(f"{where}: {issue.severity} {issue.code} {loc}: {issue.diagnostics}")
        except (ValueError, OSError) as exc:
            failed += 1
            click.echo(f"{path}: error: {exc}", err=True)
    if not as_json:
        click.echo(f"{checked} resource(s) checked, {failed} with errors.", err=True)
    if failed:
        raise SystemExit(1)
