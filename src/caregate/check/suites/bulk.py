"""The bulk suite: a FHIR Bulk Data export (https://hl7.org/fhir/uv/bulkdata/export.html) completes and its NDJSON
holds valid resources."""

from __future__ import annotations

import time

import orjson

from caregate.check.client import body_json
from caregate.check.context import CheckContext
from caregate.check.model import Failed, check, skip
from caregate.check.registry import test

BULK = "https://hl7.org/fhir/uv/bulkdata/export.html"


def _kickoff_path(ctx: CheckContext) -> str:
    ops = {o.get("name", "").lstrip("$") for o in ctx.cap.rest.get("operation") or []}
    if "export" in ops:
        return "$export"
    if "export" in ctx.cap.type_operations("Patient"):
        return "Patient/$export"
    groups = ctx.cap.type_operations("Group")
    if "export" in groups:
        skip("only Group-level $export is declared and the checker needs a Group id")
    skip("$export is not declared")
    return ""


def _manifest(ctx: CheckContext) -> dict:
    if "bulk-manifest" in ctx.notes:
        return ctx.notes["bulk-manifest"]
    path = _kickoff_path(ctx)
    r = ctx.client.get(path, params={"_type": "Patient,Observation"},
                       headers={"Accept": "application/fhir+json", "Prefer": "respond-async"})
    check(r.status_code == 202, f"kick-off answered {r.status_code}, not 202 Accepted")
    status_url = r.headers.get("content-location")
    check(status_url, "no Content-Location header with the status URL")
    deadline = time.monotonic() + 120
    while True:
        r = ctx.client.get(status_url, headers={"Accept": "application/json"})
        if r.status_code == 200:
            break
        check(r.status_code == 202, f"the status URL answered {r.status_code}")
        if time.monotonic() > deadline:
            raise Failed("the export did not complete within 120 s")
        try:
            wait = min(float(r.headers.get("retry-after", "1")), 5.0)
        except ValueError:
            wait = 1.0
        time.sleep(max(wait, 0.2))
    manifest = body_json(r)
    check(isinstance(manifest, dict), "the completed export's manifest is not JSON")
    ctx.notes["bulk-manifest"] = manifest
    return manifest


@test("bulk.export", "A bulk export completes with a manifest",
      "$export with Prefer: respond-async answers 202 with a status URL in Content-Location; polling it ends "
      "with 200 and a manifest naming transactionTime, request, requiresAccessToken and output files.",
      BULK + "#bulk-data-kick-off-request", mandatory=lambda cap: cap.declares_export())
def export(ctx: CheckContext) -> str:
    manifest = _manifest(ctx)
    missing = [k for k in ("transactionTime", "request", "requiresAccessToken", "output") if k not in manifest]
    check(not missing, f"manifest lacks {', '.join(missing)}")
    return f"{len(manifest['output'])} output files"


@test("bulk.ndjson", "Exported files are NDJSON of valid resources of the stated type",
      "Each output file is newline-delimited JSON; every line is a resource of the file's type.",
      BULK + "#file-request", mandatory=lambda cap: cap.declares_export())
def ndjson(ctx: CheckContext) -> str:
    from caregate.check.suites.ukcore import _errors

    manifest = _manifest(ctx)
    outputs = manifest.get("output") or []
    if not outputs:
        skip("the export produced no files")
    lines = 0
    for out in outputs[:5]:
        token = bool(manifest.get("requiresAccessToken"))  # false: the files take no token
        r = ctx.client.get(out["url"], headers={"Accept": "application/fhir+ndjson"}, token=token)
        check(r.status_code == 200, f"{out['url']} answered {r.status_code}")
        for n, line in enumerate(r.content.splitlines()[:200], 1):
            if not line.strip():
                continue
            try:
                resource = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise Failed(f"{out.get('type')} file line {n} is not JSON") from None
            check(resource.get("resourceType") == out.get("type"),
                  f"{out.get('type')} file line {n} holds a {resource.get('resourceType')}")
            errors = _errors(resource)
            check(not errors, f"{out.get('type')} file line {n} is invalid: {'; '.join(errors[:3])}")
            lines += 1
    return f"{lines} resources valid in {min(len(outputs), 5)} files"
