"""Generate the terminology content caregate ships: every CodeSystem, ValueSet and ConceptMap of FHIR R4 and
UK Core.

Reads the R4 (4.0.1) bundles `valuesets.json.gz`, `v3-codesystems.json.gz`, `v2-tables.json.gz` and
`conceptmaps.json.gz` (https://hl7.org/fhir/R4/downloads.html) and the UK Core package's `codesystems/`,
`valuesets/` and `conceptmaps/` folders (FHIR XML), and writes `src/caregate/fhir/data/terminology.json.gz`,
one gzipped compact JSON document:

- `codesystems`: url -> {`id`, `name`, `title`, `version`, `content`, `concepts`}, where `concepts` lists
  [code, display, [parent codes]] in definition order; parents come from nesting and from the `parent` /
  `subsumedBy` properties (https://hl7.org/fhir/R4/codesystem.html#hierarchy). CodeSystems published without
  their concepts (content `not-present`, e.g. SNOMED CT, LOINC) keep their metadata and an empty list.
- `valuesets`: url -> {`id`, `name`, `title`, `version`, `compose`}; expansion happens at run time
  (caregate.fhir.terminology), so filters, paging and exclusions work on the source definitions.
- `conceptmaps`: url -> the ConceptMap resource without its narrative, for `$translate`.

The first source seen for a url wins (R4 base before UK Core). A `PROVENANCE-terminology.md` beside it
records the sources and counts.

Usage: python tools/terminology_defs.py R4_DIR UK_CORE_DIR [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from caregate.fhir.xmlformat import parse_xml  # noqa: E402

_BUNDLES = ("valuesets.json.gz", "v3-codesystems.json.gz", "v2-tables.json.gz", "conceptmaps.json.gz")
_META = ("id", "name", "title", "version")


def _bundle(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    if data.get("resourceType") == "Bundle":
        return [entry["resource"] for entry in data.get("entry", [])]
    return [data]


def _xml_folder(folder: Path, skipped: list[str]) -> Iterable[dict[str, Any]]:
    for path in sorted(folder.glob("*.xml")):
        try:
            yield parse_xml(path.read_bytes())
        except ValueError as exc:  # a source file that is not well-formed FHIR XML is left out and listed
            skipped.append(f"{path.name}: {exc}")


def _concepts(cs: dict[str, Any]) -> list[list[Any]]:
    order: list[str] = []
    display: dict[str, str] = {}
    parents: dict[str, list[str]] = {}

    def walk(concepts: list[dict[str, Any]], parent: str | None) -> None:
        for c in concepts:
            code = c["code"]
            if code not in parents:
                order.append(code)
                parents[code] = []
                display[code] = c.get("display", "")
            if parent is not None and parent not in parents[code]:
                parents[code].append(parent)
            for prop in c.get("property", ()):
                value = prop.get("valueCode")
                if prop.get("code") in ("parent", "subsumedBy") and value and value not in parents[code]:
                    parents[code].append(value)
            walk(c.get("concept", []), code)

    walk(cs.get("concept", []), None)
    return [[code, display[code], parents[code]] for code in order]


def terminology(resources: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, int]]:
    codesystems: dict[str, Any] = {}
    valuesets: dict[str, Any] = {}
    conceptmaps: dict[str, Any] = {}
    for r in resources:
        url = r.get("url")
        if not url:
            continue
        meta = {k: r[k] for k in _META if k in r}
        if r.get("resourceType") == "CodeSystem" and url not in codesystems:
            codesystems[url] = {**meta, "content": r.get("content", "complete"), "concepts": _concepts(r)}
        elif r.get("resourceType") == "ValueSet" and url not in valuesets:
            valuesets[url] = {**meta, "compose": r.get("compose", {})}
        elif r.get("resourceType") == "ConceptMap" and url not in conceptmaps:
            conceptmaps[url] = {k: v for k, v in r.items() if k != "text"}
    counts = {"codesystems": len(codesystems), "valuesets": len(valuesets), "conceptmaps": len(conceptmaps),
              "concepts": sum(len(c["concepts"]) for c in codesystems.values())}
    return {"codesystems": codesystems, "valuesets": valuesets, "conceptmaps": conceptmaps}, counts


def _uk_commit(folder: Path) -> str:
    found = re.search(r"commit ([0-9a-f]{40})", (folder / "README.md").read_text())
    return found.group(1) if found else "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("r4", type=Path)
    parser.add_argument("uk_core", type=Path)
    parser.add_argument("--out", type=Path, default=REPO / "src" / "caregate" / "fhir" / "data")
    args = parser.parse_args(argv)
    resources: list[dict[str, Any]] = []
    for name in _BUNDLES:
        resources.extend(_bundle(args.r4 / name))
    skipped: list[str] = []
    resources.extend(_xml_folder(args.uk_core / "codesystems", skipped))
    resources.extend(_xml_folder(args.uk_core / "valuesets", skipped))
    resources.extend(_xml_folder(args.uk_core / "conceptmaps", skipped))
    doc, counts = terminology(resources)
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    (args.out / "terminology.json.gz").write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    version = gzip.decompress((args.r4 / "version.info.gz").read_bytes()).decode().strip().splitlines()
    (args.out / "PROVENANCE-terminology.md").write_text(
        "# terminology.json.gz\n\n"
        "Generated by `tools/terminology_defs.py` (run by `make gendefs`) from the FHIR R4 release bundles "
        f"{', '.join(_BUNDLES)} (version.info: {'; '.join(v for v in version if v)}) and the UK Core package's "
        "CodeSystem, ValueSet and ConceptMap XML files (https://simplifier.net/hl7fhirukcorer4).\n\n"
        f"- CodeSystems: {counts['codesystems']} ({counts['concepts']} concepts)\n"
        f"- ValueSets: {counts['valuesets']}\n"
        f"- ConceptMaps: {counts['conceptmaps']}\n"
        f"- UK Core source commit: {_uk_commit(args.uk_core)}\n"
        + "".join(f"- left out (not well-formed FHIR XML): {s}\n" for s in skipped)
    )
    print(counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
