"""The definitions resource validation needs, extracted from the official FHIR R4 bundles (used by gendefs.py).

Writes one gzipped compact JSON document, `validation.json.gz`, holding:

- `types`: every resource, complex and primitive datatype (constraining profiles such as SimpleQuantity
  included, under their id) -> `kind`, `base` and `elements`, a map from element path
  (`Patient.contact.name`, choice elements with their `[x]`) to a compact record:
  `t` types (a code, or [code, target type names, profile names] when the type lists targetProfile or
  profile), `min`, `max` (omitted when 0 and "*"), `cr` (contentReference target path), `b` binding
  [strength, ValueSet url without version], `c` constraint numbers, `fx`/`pt` fixed and pattern values
  (https://hl7.org/fhir/R4/elementdefinition.html).
- `constraints`: [key, severity, human, expression], referred to by number (ele-1 is on every element).
- `valuesets`: ValueSet url -> {system: [codes]} for each ValueSet bound (required, extensible or preferred)
  somewhere in the base spec that can be expanded from the CodeSystems of the release (enumerated concepts,
  whole code systems, `is-a`/`descendent-of`/`=` concept filters on hierarchies present in the release), or
  a string saying why it cannot be expanded (an external terminology such as SNOMED CT or LOINC, a filter
  that needs one, a missing CodeSystem) (https://hl7.org/fhir/R4/valueset.html#expansion).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_BUNDLES = ("valuesets.json.gz", "v3-codesystems.json.gz", "v2-tables.json.gz")


def _load(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    if data.get("resourceType") == "Bundle":
        return [entry["resource"] for entry in data.get("entry", [])]
    return [data]


def _type_entry(type_ref: dict[str, Any], code: str) -> Any:
    targets = [p.rsplit("/", 1)[-1] for p in type_ref.get("targetProfile", ())]
    profiles = [p.rsplit("/", 1)[-1] for p in type_ref.get("profile", ())]
    if targets or profiles:
        return [code, targets, profiles]
    return code


class _Constraints:
    def __init__(self) -> None:
        self.table: list[list[str]] = []
        self._index: dict[tuple[str, ...], int] = {}

    def number(self, c: dict[str, Any]) -> int:
        entry = (c["key"], c.get("severity", "error"), c.get("human", ""), c.get("expression", ""))
        if entry not in self._index:
            self._index[entry] = len(self.table)
            self.table.append(list(entry))
        return self._index[entry]


def types_model(sds: Iterable[dict[str, Any]], type_code, constraints: _Constraints) -> tuple[dict, set[str]]:
    """Type name -> kind, base and per-path element records; also the bound ValueSet urls."""
    out: dict[str, Any] = {}
    bound: set[str] = set()
    for sd in sds:
        kind = sd.get("kind")
        if kind not in ("resource", "complex-type", "primitive-type"):
            continue
        if sd.get("derivation") == "constraint" and sd.get("type") != "Quantity":
            continue  # profiles of resources and Extension types are not base types; SimpleQuantity etc. are
        name = sd["id"]
        elements: dict[str, Any] = {}
        for el in sd.get("snapshot", {}).get("element", []):
            path = el["path"]
            rec: dict[str, Any] = {}
            if "contentReference" in el:
                rec["cr"] = el["contentReference"].split("#", 1)[1]
            elif "type" in el:
                rec["t"] = list(dict.fromkeys(
                    json.dumps(_type_entry(t, type_code(t))) for t in el["type"]))
                rec["t"] = [json.loads(t) for t in rec["t"]]
            if el.get("min", 0):
                rec["min"] = el["min"]
            if el.get("max", "*") != "*":
                rec["max"] = el["max"]
            binding = el.get("binding")
            if binding and binding.get("valueSet") and binding.get("strength") != "example":
                url = binding["valueSet"].split("|", 1)[0]
                rec["b"] = [binding["strength"], url]
                bound.add(url)
            cons = [constraints.number(c) for c in el.get("constraint", ()) if c.get("expression")]
            if cons:
                rec["c"] = cons
            for key, short in (("fixed", "fx"), ("pattern", "pt")):
                for k, v in el.items():
                    if k.startswith(key) and k != key:
                        rec[short] = v
            elements[path] = rec
        out[name] = {
            "kind": kind,
            "type": sd["type"],
            "abstract": bool(sd.get("abstract")),
            "base": (sd.get("baseDefinition") or "").rsplit("/", 1)[-1],
            "elements": elements,
        }
    return dict(sorted(out.items())), bound


class _Unexpandable(Exception):
    pass


class _Expander:
    def __init__(self, resources: Iterable[dict[str, Any]]) -> None:
        self.code_systems: dict[str, dict[str, Any]] = {}
        self.value_sets: dict[str, dict[str, Any]] = {}
        for r in resources:
            if r.get("resourceType") == "CodeSystem" and "url" in r:
                self.code_systems.setdefault(r["url"], r)
            elif r.get("resourceType") == "ValueSet" and "url" in r:
                self.value_sets.setdefault(r["url"], r)
        self._cache: dict[str, dict[str, set[str]] | str] = {}

    def _system(self, url: str) -> dict[str, Any]:
        cs = self.code_systems.get(url)
        if cs is None:
            raise _Unexpandable(f"the code system {url} is not part of the FHIR R4 release")
        if cs.get("content") not in ("complete",):
            raise _Unexpandable(f"the code system {url} is published with content '{cs.get('content')}'")
        return cs

    @staticmethod
    def _walk(concepts: list[dict[str, Any]], out: dict[str, list[str]], parent: str | None) -> None:
        for c in concepts:
            out.setdefault(c["code"], [])
            if parent is not None:
                out[c["code"]].append(parent)
            _Expander._walk(c.get("concept", []), out, c["code"])

    def _parents(self, url: str) -> dict[str, list[str]]:
        cs = self._system(url)
        out: dict[str, list[str]] = {}
        self._walk(cs.get("concept", []), out, None)
        for c in _flat(cs.get("concept", [])):
            for prop in c.get("property", ()):
                if prop.get("code") in ("subsumedBy", "parent") and "valueCode" in prop:
                    out.setdefault(c["code"], []).append(prop["valueCode"])
        return out

    def _filtered(self, url: str, filters: list[dict[str, Any]]) -> set[str]:
        parents = self._parents(url)
        codes = set(parents)
        for f in filters:
            op, prop, value = f.get("op"), f.get("property"), f.get("value")
            if prop == "concept" and op in ("is-a", "descendent-of"):
                below = {c for c in parents if _is_below(c, value, parents)}
                codes &= below | ({value} if op == "is-a" and value in parents else set())
            elif prop == "concept" and op == "is-not-a":
                codes -= {c for c in parents if _is_below(c, value, parents)} | {value}
            elif prop == "concept" and op == "=":
                codes &= {value}
            else:
                raise _Unexpandable(f"the filter {prop} {op} {value} on {url} needs a terminology service")
        return codes

    def _include(self, inc: dict[str, Any]) -> dict[str, set[str]]:
        result: dict[str, set[str]] | None = None
        if inc.get("system"):
            system = inc["system"]
            if inc.get("concept"):
                codes = {c["code"] for c in inc["concept"]}
            elif inc.get("filter"):
                codes = self._filtered(system, inc["filter"])
            else:
                codes = set(self._parents(system))
            result = {system: codes}
        for vs_url in inc.get("valueSet", ()):
            other = self.expand(vs_url.split("|", 1)[0])
            if isinstance(other, str):
                raise _Unexpandable(other)
            if result is None:
                result = {k: set(v) for k, v in other.items()}
            else:
                result = {k: result[k] & other[k] for k in result if k in other}
        return result or {}

    def expand(self, url: str) -> dict[str, set[str]] | str:
        if url in self._cache:
            return self._cache[url]
        self._cache[url] = f"the ValueSet {url} includes itself"
        vs = self.value_sets.get(url)
        try:
            if vs is None:
                raise _Unexpandable(f"the ValueSet {url} is not part of the FHIR R4 release")
            compose = vs.get("compose")
            if compose is None:
                raise _Unexpandable(f"the ValueSet {url} has no compose")
            found: dict[str, set[str]] = {}
            for inc in compose.get("include", ()):
                for system, codes in self._include(inc).items():
                    found.setdefault(system, set()).update(codes)
            for exc in compose.get("exclude", ()):
                for system, codes in self._include(exc).items():
                    if system in found:
                        found[system] -= codes
            result: dict[str, set[str]] | str = found
        except _Unexpandable as exc:
            result = str(exc)
        self._cache[url] = result
        return result


def _flat(concepts: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for c in concepts:
        yield c
        yield from _flat(c.get("concept", []))


def _is_below(code: str, ancestor: str, parents: dict[str, list[str]]) -> bool:
    seen: set[str] = set()
    stack = list(parents.get(code, ()))
    while stack:
        p = stack.pop()
        if p == ancestor:
            return True
        if p not in seen:
            seen.add(p)
            stack.extend(parents.get(p, ()))
    return False


def validation_model(source: Path, sds: list[dict[str, Any]], type_code) -> tuple[bytes, dict[str, int]]:
    """The gzipped validation document and counts for PROVENANCE.md."""
    constraints = _Constraints()
    types, bound = types_model(sds, type_code, constraints)
    resources: list[dict[str, Any]] = []
    for name in _BUNDLES:
        if (source / name).exists():
            resources.extend(_load(source / name))
    expander = _Expander(resources)
    valuesets: dict[str, Any] = {}
    for url in sorted(bound):
        expansion = expander.expand(url)
        valuesets[url] = expansion if isinstance(expansion, str) else {
            system: sorted(codes) for system, codes in sorted(expansion.items())
        }
    doc = {"types": types, "constraints": constraints.table, "valuesets": valuesets}
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode()
    counts = {
        "types": len(types),
        "constraints": len(constraints.table),
        "valuesets": sum(1 for v in valuesets.values() if not isinstance(v, str)),
        "unexpandable": sum(1 for v in valuesets.values() if isinstance(v, str)),
    }
    return gzip.compress(raw, compresslevel=9, mtime=0), counts
