"""Generate caregate's compact FHIR R4 definitions from the official 4.0.1 definition bundles.

Reads the gzipped Bundles of the FHIR R4 (4.0.1) release (https://hl7.org/fhir/R4/downloads.html):
`search-parameters.json.gz`, `profiles-resources.json.gz`, `profiles-types.json.gz` and
`compartmentdefinition-patient.json.gz`, and writes into `src/caregate/fhir/data/` only what the server
needs at run time (the package never reads the bundles itself):

- `resource-types.json`: concrete resource type -> the abstract type it specializes (`DomainResource` or
  `Resource`), from StructureDefinitions with kind=resource, abstract=false, derivation!=constraint.
- `elements.json`: the element model, type name -> element name -> type codes (choice elements keep `[x]`;
  backbone elements are typed by their own path, `Observation.component`, which is also where their
  children are listed; `contentReference` elements point at that path).
- `search-parameters.json`: one record per SearchParameter with url, code, base, type, expression, the
  expression restricted to each base type (`expressions`), target, multipleOr, multipleAnd, modifier,
  comparator and component (definition url and expression).
- `compartment-patient.json`: resource type -> the parameters placing it in the Patient compartment.
- `xml-model.json`: what converting between the XML and JSON formats needs (xml.html, json.html): every
  resource, complex datatype and backbone element with its elements in definition order (choice elements
  expanded by type suffix, `valueQuantity`), each as [type code, repeats, representation], and every
  primitive type with its JSON representation (boolean, number or string).
- `validation.json.gz`: what resource validation needs (element cardinality, types, bindings, constraints,
  fixed and pattern values, and the expansions of the bound ValueSets); see tools/validation_defs.py.
- `PROVENANCE.md`: where the data came from.

Each file holds one entry per line so that regenerating after a change gives readable diffs.

Usage: python tools/gendefs.py [SOURCE_DIR] [--out DIR] [--check]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tools"))

from validation_defs import validation_model  # noqa: E402

from caregate.search.fhirpath import split_by_type  # noqa: E402

DEFAULT_SOURCE = REPO.parent / "shared" / "fhir-r4"
DEFAULT_OUT = REPO / "src" / "caregate" / "fhir" / "data"
FHIR_VERSION = "4.0.1"

_SYSTEM_PRIMITIVES = {
    "String": "string",
    "Boolean": "boolean",
    "Integer": "integer",
    "Decimal": "decimal",
    "Date": "date",
    "DateTime": "dateTime",
    "Time": "time",
}
_FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
# Every element has these with the same types; the runtime knows them without the model.
_SKIPPED_ELEMENTS = frozenset({"id", "extension", "modifierExtension"})


def _bundle_resources(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    if data.get("resourceType") == "Bundle":
        return [entry["resource"] for entry in data.get("entry", [])]
    return [data]


def _structure_definitions(path: Path) -> list[dict[str, Any]]:
    return [
        r
        for r in _bundle_resources(path)
        if r.get("resourceType") == "StructureDefinition" and r.get("fhirVersion") == FHIR_VERSION
    ]


def resource_types(resource_sds: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Concrete resource types and the abstract type each specializes."""
    found: dict[str, str] = {}
    for sd in resource_sds:
        if sd.get("kind") == "resource" and not sd.get("abstract") and sd.get("derivation") != "constraint":
            found[sd["type"]] = sd.get("baseDefinition", "").rsplit("/", 1)[-1]
    return dict(sorted(found.items()))


def _type_code(type_ref: dict[str, Any]) -> str:
    code = type_ref["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in type_ref.get("extension", ()):
            if ext.get("url") == _FHIR_TYPE_EXTENSION:
                return str(ext.get("valueUrl") or ext.get("valueUri"))
        return _SYSTEM_PRIMITIVES.get(code.rsplit(".", 1)[-1], "string")
    return str(code)


def elements(sds: Iterable[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """Type name (or backbone path) -> element name -> type codes, from StructureDefinition snapshots."""
    model: dict[str, dict[str, list[str]]] = {}
    for sd in sds:
        if sd.get("kind") not in ("resource", "complex-type"):
            continue
        if sd.get("abstract") and sd["type"] not in ("Resource", "DomainResource"):
            continue
        owner, base_path = sd["id"], sd["type"]
        snapshot = sd.get("snapshot", {}).get("element", [])
        paths = {el["path"] for el in snapshot}
        parents = {p.rsplit(".", 1)[0] for p in paths if "." in p}
        kids_of_owner = model.setdefault(owner, {})
        for el in snapshot:
            path: str = el["path"]
            if "." not in path:
                continue
            parent, name = path.rsplit(".", 1)
            if name in _SKIPPED_ELEMENTS:
                continue
            relative = owner + path[len(base_path) :]
            if "contentReference" in el:
                types = [owner + el["contentReference"][1:][len(base_path) :]]
            else:
                types = [_type_code(t) for t in el.get("type", [])]
                if types in (["BackboneElement"], ["Element"]) and path in parents:
                    types = [relative]
            holder = (
                kids_of_owner
                if parent == base_path
                else model.setdefault(owner + parent[len(base_path) :], {})
            )
            holder[name] = list(dict.fromkeys(types))
    return {name: model[name] for name in sorted(model)}


# JSON represents these primitives as numbers and `boolean` as true/false; all others are strings
# (https://hl7.org/fhir/R4/json.html, primitive types).
_JSON_NUMBERS = frozenset({"integer", "decimal", "positiveInt", "unsignedInt"})


def _representation(el: dict[str, Any], type_code: str) -> str:
    """How an element is written in XML: `attribute` (xmlAttr: `id` of elements, `url` of Extension, the
    `value` of primitives), `xhtml` (Narrative.div, kept as XHTML) or `element` (https://hl7.org/fhir/R4/xml.html)."""
    if "xmlAttr" in el.get("representation", ()):
        return "attribute"
    if type_code == "xhtml" or "xhtml" in el.get("representation", ()):
        return "xhtml"
    return "element"


def xml_model(sds: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Type name (or backbone path) -> its kind and its elements in the order the XML format requires.

    Unlike `elements()`, this keeps `id`, `extension` and `modifierExtension`, keeps the snapshot order (XML
    elements must appear in it, https://hl7.org/fhir/R4/xml.html) and names choice elements as JSON and XML
    spell them: one entry per allowed type, `value[x]` with type `Quantity` becoming `valueQuantity`
    (formats.html#choice).
    Each element is [type code, repeats (max != "1"), representation]. Constraining profiles
    (SimpleQuantity) and abstract types are left out: instances always use the base type's elements.
    """
    model: dict[str, dict[str, Any]] = {}
    for sd in sds:
        kind = sd.get("kind")
        if sd.get("abstract") or sd.get("derivation") == "constraint":
            continue
        if kind == "primitive-type":
            name = sd["type"]
            json_type = "boolean" if name == "boolean" else "number" if name in _JSON_NUMBERS else "string"
            model[name] = {"kind": "primitive", "json": json_type}
            continue
        if kind not in ("resource", "complex-type"):
            continue
        snapshot = sd.get("snapshot", {}).get("element", [])
        parents = {el["path"].rsplit(".", 1)[0] for el in snapshot if "." in el["path"]}
        model[sd["type"]] = {"kind": kind, "elements": {}}
        for el in snapshot:
            path: str = el["path"]
            if "." not in path:
                continue
            parent, name = path.rsplit(".", 1)
            if "contentReference" in el:
                types = [el["contentReference"].split("#", 1)[1]]
            else:
                types = list(dict.fromkeys(_type_code(t) for t in el.get("type", [])))
                if types in (["BackboneElement"], ["Element"]) and path in parents:
                    types = [path]
            holder = model.setdefault(parent, {"kind": "backbone", "elements": {}})["elements"]
            repeats = el.get("max") != "1"
            if name.endswith("[x]"):
                for code in types:
                    holder[name[:-3] + code[0].upper() + code[1:]] = [code, repeats, _representation(el, code)]
            elif len(types) == 1:
                holder[name] = [types[0], repeats, _representation(el, types[0])]
            else:
                raise ValueError(f"{path}: {len(types)} types on an element that is not a choice")
    return {name: model[name] for name in sorted(model)}


def summary_elements(resource_sds: Iterable[dict[str, Any]], types: dict[str, str]) -> dict[str, list[str]]:
    """Top-level elements marked `isSummary` per resource type, for `_summary=true` (search.html#summary)."""
    out: dict[str, list[str]] = {}
    for sd in resource_sds:
        name = sd.get("type")
        if name not in types or sd.get("derivation") == "constraint":
            continue
        names = []
        for el in sd.get("snapshot", {}).get("element", []):
            path = el.get("path", "")
            parts = path.split(".")
            if len(parts) == 2 and el.get("isSummary"):
                names.append(parts[1].removesuffix("[x]"))
        out[name] = names
    return dict(sorted(out.items()))


def search_parameters(params: Iterable[dict[str, Any]], types: dict[str, str]) -> list[dict[str, Any]]:
    """The compact SearchParameter records, each with its expression split per base type."""
    records: list[dict[str, Any]] = []
    for sp in params:
        if sp.get("resourceType") != "SearchParameter":
            continue
        record: dict[str, Any] = {
            "url": sp["url"],
            "code": sp["code"],
            "base": sp["base"],
            "type": sp["type"],
        }
        if sp.get("version") not in (None, FHIR_VERSION):
            record["version"] = sp["version"]
        expression = sp.get("expression")
        if expression:
            record["expression"] = expression
            record["expressions"] = split_by_type(expression, sp["base"], types.__contains__)
        for key in ("target", "multipleOr", "multipleAnd", "modifier", "comparator"):
            if key in sp:
                record[key] = sp[key]
        if "component" in sp:
            record["component"] = [
                {"definition": c["definition"], "expression": c["expression"]} for c in sp["component"]
            ]
        records.append(record)
    return records


def patient_compartment(definition: dict[str, Any]) -> dict[str, list[str]]:
    return {r["code"]: list(r["param"]) for r in definition.get("resource", []) if r.get("param")}


def _lines(value: list[Any] | dict[str, Any]) -> bytes:
    """Compact JSON with one top-level entry per line."""

    def dump(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))

    if isinstance(value, list):
        body = ",\n".join(dump(v) for v in value)
        return f"[\n{body}\n]\n".encode()
    body = ",\n".join(f"{dump(k)}:{dump(v)}" for k, v in value.items())
    return f"{{\n{body}\n}}\n".encode()


def _provenance(counts: dict[str, int], version_info: str, skipped: list[str]) -> bytes:
    info = dict(
        line.split("=", 1) for line in version_info.splitlines() if "=" in line and not line.startswith("[")
    )
    notes = "\n".join(f"- {s}" for s in skipped) or "- none"
    text = f"""# Provenance of the generated FHIR definitions

Generated by `tools/gendefs.py` from the official FHIR R4 definition bundles; do not edit by hand, re-run
the tool instead (`python tools/gendefs.py /path/to/fhir-r4`).

- Specification: HL7 FHIR Release 4, version {info.get("version", FHIR_VERSION)}, \
build {info.get("buildId", "?")} ({info.get("date", "?")}), https://hl7.org/fhir/R4/
- License: the FHIR specification and its definitions are published under CC0 (public domain dedication);
  "FHIR" is the registered trademark of HL7.
- Source files: `search-parameters.json.gz`, `profiles-resources.json.gz`, `profiles-types.json.gz`,
  `compartmentdefinition-patient.json.gz`, `valuesets.json.gz`, `v3-codesystems.json.gz`, `v2-tables.json.gz`
  (the release's definition bundles, gzipped).

| file | from | entries |
|---|---|---|
| resource-types.json | profiles-resources: concrete resources | {counts["resource-types"]} |
| elements.json | snapshots of profiles-resources and profiles-types | {counts["elements"]} types |
| search-parameters.json | search-parameters | {counts["search-parameters"]} |
| compartment-patient.json | compartmentdefinition-patient | {counts["compartment-patient"]} |
| xml-model.json | snapshots of profiles-resources and profiles-types (XML/JSON conversion) | \
{counts["xml-model"]} types |
| validation.json.gz | snapshots of profiles-resources and profiles-types; valuesets, v3-codesystems and \
v2-tables (expansions) | {counts["validation-types"]} types, {counts["validation-constraints"]} constraints, \
{counts["validation-valuesets"]} expanded ValueSets, {counts["validation-unexpandable"]} not expandable |

Notes on the source:

{notes}
"""
    return text.encode()


def generate(source: Path) -> dict[str, bytes]:
    """File name -> content of every generated file."""
    resource_sds_all = [
        r
        for r in _bundle_resources(source / "profiles-resources.json.gz")
        if r.get("resourceType") == "StructureDefinition"
    ]
    skipped = [
        f"StructureDefinition {sd['id']} is FHIR {sd.get('fhirVersion')}, not {FHIR_VERSION}: left out"
        for sd in resource_sds_all
        if sd.get("fhirVersion") != FHIR_VERSION
    ]
    resource_sds = [sd for sd in resource_sds_all if sd.get("fhirVersion") == FHIR_VERSION]
    all_type_sds = _structure_definitions(source / "profiles-types.json.gz")
    type_sds = [sd for sd in all_type_sds if sd.get("kind") == "complex-type"]
    types = resource_types(resource_sds)
    model = elements([*resource_sds, *type_sds])
    params = search_parameters(_bundle_resources(source / "search-parameters.json.gz"), types)
    for record in params:
        if "version" in record:
            skipped.append(
                f"SearchParameter {record['url'].rsplit('/', 1)[-1]} is version {record['version']}, kept as "
                "published"
            )
    summaries = summary_elements(resource_sds, types)
    xml = xml_model([*resource_sds, *all_type_sds])
    validation, validation_counts = validation_model(source, [*resource_sds, *all_type_sds], _type_code)
    compartment = patient_compartment(_bundle_resources(source / "compartmentdefinition-patient.json.gz")[0])
    version_path = source / "version.info.gz"
    version_info = ""
    if version_path.exists():
        with gzip.open(version_path, "rt", encoding="utf-8") as handle:
            version_info = handle.read()
    counts = {
        "resource-types": len(types),
        "elements": len(model),
        "search-parameters": len(params),
        "compartment-patient": len(compartment),
        "summary-elements": len(summaries),
        "xml-model": len(xml),
        **{f"validation-{k}": v for k, v in validation_counts.items()},
    }
    return {
        "resource-types.json": _lines(types),
        "elements.json": _lines(model),
        "search-parameters.json": _lines(params),
        "compartment-patient.json": _lines(compartment),
        "summary-elements.json": _lines(summaries),
        "xml-model.json": _lines(xml),
        "validation.json.gz": validation,
        "PROVENANCE.md": _provenance(counts, version_info, skipped),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source", nargs="?", type=Path, default=DEFAULT_SOURCE, help="folder of the R4 bundles"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the generated files")
    parser.add_argument("--check", action="store_true", help="only compare with --out; exit 1 if different")
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        parser.error(f"{args.source} is not a folder of FHIR definition bundles")
    files = generate(args.source)
    if args.check:
        stale = [
            n
            for n, data in files.items()
            if not (args.out / n).exists() or (args.out / n).read_bytes() != data
        ]
        for name in stale:
            print(f"out of date: {args.out / name}")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
        print(f"wrote {args.out / name} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
