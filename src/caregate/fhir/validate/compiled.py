"""A profile's snapshot compiled into the few checks it adds to the base definition.

The structural walk (walker.py) already checks everything the R4 base says, so a profile is compiled into a
tree of `Rule`s holding only what its differentials (its own and those of the profiles it derives from) state:
cardinality that differs from the base, allowed types with their profiles and reference targets, fixed and
pattern values, bindings, invariants the base does not have, and slicing with its slices
(https://hl7.org/fhir/R4/profiling.html). Elements no differential touches are left out, with the parents
that lead to touched ones kept, so checking a profile costs a walk over a handful of paths. Each profile is
compiled once per process (or once per set of server-given definitions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from caregate.fhir.validate.model import Constraint, constraint_table
from caregate.fhir.validate.structures import CORE, Definitions, shipped

__all__ = ["Discriminator", "Profile", "Rule", "compile_profile"]


@dataclass(frozen=True, slots=True)
class Discriminator:
    """How to tell which slice an item belongs to: its kind, path and the slice's expected value."""

    kind: str  # value | pattern | type | profile | exists
    path: tuple[str, ...]  # () for $this
    expected: Any  # the fixed/pattern value, allowed type codes, profile urls, or whether it exists


@dataclass(slots=True)
class Rule:
    """What a profile says of one element (or one slice of it), beyond the base."""

    path: str
    key: str
    choice: bool
    min: int | None = None  # checked only when the profile changes it (or for a slice)
    max: int | None = None
    max_checked: bool = False
    types: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] | None = None  # code -> (profiles, targets)
    fixed: Any = None
    pattern: Any = None
    binding: tuple[str, str] | None = None
    constraints: tuple[Constraint, ...] = ()
    children: list[Rule] = field(default_factory=list)
    slice_name: str | None = None
    discriminators: tuple[Discriminator, ...] = ()
    rules: str = "open"
    ordered: bool = False
    slices: list[Rule] = field(default_factory=list)
    matchers: tuple[Discriminator, ...] = ()  # for a slice: the discriminators with its expected values


@dataclass(slots=True)
class Profile:
    url: str
    type: str
    name: str
    root: Rule


@cache
def _base_constraints() -> frozenset[tuple[str, str]]:
    return frozenset((c.key, c.expression) for c in constraint_table())


def _target_type(url: str, defs: Definitions) -> str | None:
    url = url.split("|", 1)[0]
    if url.startswith(CORE) and "/" not in url[len(CORE):]:
        return url[len(CORE):]
    sd = defs.resolve(url)
    return sd.get("type") if sd else None


def _value_of(el: dict[str, Any], prefix: str) -> Any:
    for k, v in el.items():
        if k.startswith(prefix) and k != prefix:
            return v
    return None


class _Compiler:
    def __init__(self, sd: dict[str, Any], defs: Definitions) -> None:
        self.defs = defs
        self.elements: list[dict[str, Any]] = sd["snapshot"]["element"]
        self.by_id = {e.get("id", e["path"]): e for e in self.elements}
        self.children: dict[str, list[str]] = {}
        self.slices: dict[str, list[str]] = {}
        for e in self.elements:
            eid = e.get("id", e["path"])
            head, _, last = eid.rpartition(".")
            name, _, slice_name = last.partition(":")
            if slice_name:
                self.slices.setdefault(f"{head}.{name}" if head else name, []).append(eid)
            elif head:
                self.children.setdefault(head, []).append(eid)
        self.touched: set[str] = set()
        for link in defs.chain(sd):
            for d in (link.get("differential") or {}).get("element") or ():
                if isinstance(d, dict) and isinstance(d.get("path"), str):
                    eid = d.get("id") or (f"{d['path']}:{d['sliceName']}" if d.get("sliceName") else d["path"])
                    self.touched.add(eid if eid in self.by_id else self._choice_id(eid))
        self.relevant: set[str] = set()
        for eid in self.touched:
            while eid:
                self.relevant.add(eid)
                eid = eid.rpartition(".")[0]

    def _choice_id(self, eid: str) -> str:
        """The snapshot id of a differential id that names a choice by type (`Observation.valueQuantity.code`
        is `Observation.value[x].code`)."""
        parts = eid.split(".")
        out = parts[0]
        for part in parts[1:]:
            name, colon, slice_name = part.partition(":")
            candidate = f"{out}.{part}"
            if candidate not in self.by_id:
                for i in range(len(name) - 1, 0, -1):
                    if name[i].isupper() and f"{out}.{name[:i]}[x]" in self.by_id:
                        candidate = f"{out}.{name[:i]}[x]{colon}{slice_name}"
                        break
            out = candidate
        return out

    def rule(self, eid: str) -> Rule:
        el = self.by_id[eid]
        last = eid.rpartition(".")[2]
        name, _, slice_name = last.partition(":")
        choice = name.endswith("[x]")
        out = Rule(path=el["path"], key=name[:-3] if choice else name, choice=choice, slice_name=slice_name or None)
        if eid in self.touched:
            self._checks(el, out, eid)
        for child in self.children.get(eid, ()):
            if child in self.relevant or any(s in self.relevant for s in self.slices.get(child, ())):
                out.children.append(self.rule(child))
        slices = [s for s in self.slices.get(eid, ()) if s in self.relevant]
        if slices:
            slicing = el.get("slicing") or {}
            discs = slicing.get("discriminator") or []
            if not discs and out.key in ("extension", "modifierExtension"):
                discs = [{"type": "value", "path": "url"}]  # extensions are always sliced by url
            out.rules = slicing.get("rules", "open")
            out.ordered = bool(slicing.get("ordered"))
            out.discriminators = tuple(Discriminator(d.get("type", "value"), _path(d.get("path", "$this")), None)
                                       for d in discs)
            for s in slices:
                rule = self.rule(s)
                rule.matchers = tuple(Discriminator(d.kind, d.path, self._expected(s, d)) for d in out.discriminators)
                out.slices.append(rule)
        return out

    def _checks(self, el: dict[str, Any], out: Rule, eid: str) -> None:
        base = el.get("base") or {}
        min_, max_ = el.get("min", 0), el.get("max", "*")
        if out.slice_name or min_ != base.get("min", min_):
            out.min = min_
        if out.slice_name or max_ != base.get("max", max_):
            out.max_checked = True
            out.max = None if max_ == "*" else int(max_)
        types = el.get("type")
        if types:
            out.types = {}
            for t in types:
                code = t.get("code", "")
                if code.startswith("http://hl7.org/fhirpath/System."):
                    continue
                targets: tuple[str, ...] | None = None
                if t.get("targetProfile"):
                    found = [_target_type(p, self.defs) for p in t["targetProfile"]]
                    targets = None if None in found else tuple(sorted({f for f in found if f}))
                out.types[code] = (tuple(p.split("|", 1)[0] for p in t.get("profile", ())), targets)
            if not out.types:
                out.types = None
        out.fixed = _value_of(el, "fixed")
        out.pattern = _value_of(el, "pattern")
        binding = el.get("binding") or {}
        if binding.get("valueSet") and binding.get("strength") in ("required", "extensible", "preferred"):
            out.binding = (binding["strength"], binding["valueSet"].split("|", 1)[0])
        base_keys = _base_constraints()
        out.constraints = tuple(
            Constraint(c["key"], c.get("severity", "error"), c.get("human", ""), c["expression"])
            for c in el.get("constraint", ()) if c.get("expression") and (c["key"], c["expression"]) not in base_keys)

    def _expected(self, slice_id: str, d: Discriminator) -> Any:
        target = slice_id + "".join("." + p for p in d.path)
        el = self.by_id.get(target)
        if d.kind in ("value", "pattern"):
            if el is not None:
                found = _value_of(el, "fixed")
                if found is None:
                    found = _value_of(el, "pattern")
                if found is not None:
                    return found
            if d.path == ("url",):
                profiles = [p for t in self.by_id[slice_id].get("type", ()) for p in t.get("profile", ())]
                if profiles:
                    return profiles[0].split("|", 1)[0]
            return None
        if d.kind == "type":
            return frozenset(t["code"] for t in (el or {}).get("type", ())) or None
        if d.kind == "profile":
            return tuple(p for t in (el or {}).get("type", ()) for p in t.get("profile", ())) or None
        if d.kind == "exists":
            if el is None:
                return None
            return el.get("min", 0) > 0 if el.get("max") != "0" else False
        return None


def _path(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text in ("$this", ""):
        return ()
    return tuple(p for p in text.removeprefix("$this.").split(".") if p)


_cache: dict[tuple[str, int], Profile | None] = {}


def compile_profile(url: str, defs: Definitions) -> Profile | None:
    """The compiled profile of that url, or None when no StructureDefinition with a snapshot is known."""
    key = defs.key(url)
    if key in _cache and (key[1] == 0 or not defs):
        return _cache[key]
    sd = defs.resolve(url)
    if not sd or not (sd.get("snapshot") or {}).get("element"):
        return None
    compiler = _Compiler(sd, defs)
    root_id = sd["snapshot"]["element"][0].get("id", sd["snapshot"]["element"][0]["path"])
    compiler.relevant.add(root_id)
    profile = Profile(url=sd["url"], type=sd.get("type", root_id), name=sd.get("name") or sd["url"],
                      root=compiler.rule(root_id))
    if key[1] == 0 and url.split("|", 1)[0] in shipped():
        _cache[key] = profile
    return profile
