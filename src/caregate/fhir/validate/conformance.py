"""Checking a resource against a compiled profile (https://hl7.org/fhir/R4/profiling.html, validation.html#profile).

Runs after the structural walk against the base, over the few paths the profile constrains (compiled.py):
cardinality of elements and of each slice, allowed types (choice types and type profiles), fixed and pattern
values, bindings (through bindings.py), reference targets narrowed by targetProfile, the profile's own
invariants (invariants.py) and slicing: each item of a sliced element is given to the first slice whose
discriminators (value, pattern, type, profile, exists) it meets; `closed` slicing rejects items no slice
takes, `openAtEnd` items after the open ones, and `ordered` slices out of order. Every extension in the
resource is also checked against its definition when one is known (a warning names an unknown one).
Issues are located by FHIRPath, as the walk locates them (`Patient.identifier[0].system`).
"""

from __future__ import annotations

import re
from typing import Any

from caregate.fhir.fhirpath import Node
from caregate.fhir.validate.bindings import check_binding
from caregate.fhir.validate.compiled import Discriminator, Profile, Rule, compile_profile
from caregate.fhir.validate.invariants import run_constraint
from caregate.fhir.validate.model import type_info
from caregate.fhir.validate.structures import CORE, Definitions
from caregate.fhir.validate.walker import Run, check_reference, matches_pattern

__all__ = ["check_profile"]

_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")

Item = tuple[Any, str | None, str, int | None, Any]  # value, type code, location, index, `_name` companion


class _Check:
    __slots__ = ("defs", "label", "root", "run")

    def __init__(self, run: Run, defs: Definitions, root: Node, label: str) -> None:
        self.run = run
        self.defs = defs
        self.root = root
        self.label = label

    def error(self, code: str, message: str, loc: str) -> None:
        self.run.report("error", code, f"{message} (profile {self.label})", loc)


def check_profile(run: Run, resource: dict, profile: Profile, defs: Definitions, loc: str | None = None) -> None:
    """Report into `run` how `resource` fails `profile` (its type already checked by the caller)."""
    where = loc or resource["resourceType"]
    node = Node(resource, resource["resourceType"])
    check = _Check(run, defs, node, profile.url)
    _constraints(check, profile.root, node, where)
    _children(check, resource, profile.root.children, where, node)
    _extensions(check, resource, where, node)


def _children(check: _Check, obj: dict, rules: list[Rule], loc: str, parent: Node) -> None:
    for rule in rules:
        _element(check, obj, rule, loc, parent)


def _code_of(suffix: str) -> str:
    lowered = suffix[0].lower() + suffix[1:]
    info = type_info(lowered)
    return lowered if info is not None and info["kind"] == "primitive-type" else suffix


def _values(obj: dict, rule: Rule, loc: str) -> list[Item]:
    key = rule.key
    if rule.choice:
        out: list[Item] = []
        for k, v in obj.items():
            if k.startswith(key) and k[len(key):][:1].isupper():
                code = _code_of(k[len(key):])
                out.append((v, code, f"{loc}.{key}.ofType({code})", None, obj.get("_" + k)))
        return out
    value, companion = obj.get(key), obj.get("_" + key)
    if value is None and companion is None:
        return []
    code = next(iter(rule.types)) if rule.types and len(rule.types) == 1 else None
    if value.__class__ is list or companion.__class__ is list:
        values = value if value.__class__ is list else []
        companions = companion if companion.__class__ is list else []
        return [(values[i] if i < len(values) else None, code, f"{loc}.{key}[{i}]", i,
                 companions[i] if i < len(companions) else None) for i in range(max(len(values), len(companions)))]
    return [(value, code, f"{loc}.{key}", None, companion)]


def _element(check: _Check, obj: dict, rule: Rule, loc: str, parent: Node) -> None:
    items = _values(obj, rule, loc)
    _cardinality(check, rule, len(items), rule.path, loc)
    for item in items:
        _item(check, rule, item, parent)
    if rule.slices:
        _slicing(check, rule, items, loc, parent)


def _cardinality(check: _Check, rule: Rule, count: int, name: str, loc: str) -> None:
    if rule.min is not None and count < rule.min:
        check.error("required", f"{name}: at least {rule.min} required, but found {count}.", loc)
    if rule.max_checked and rule.max is not None and count > rule.max:
        check.error("structure", f"{name}: at most {rule.max} allowed, but found {count}.", loc)


def _item(check: _Check, rule: Rule, item: Item, parent: Node) -> None:
    value, code, where, index, companion = item
    report = check.run.report
    if code is None and rule.types is not None and len(rule.types) == 1:
        code = next(iter(rule.types))
    if rule.types is not None and code is not None and code not in rule.types:
        check.error("structure", f"{rule.path}: the type {code} is not allowed here (allowed: "
                    f"{', '.join(sorted(rule.types))}).", where)
        return
    if value is None:
        node = None
    else:
        if rule.fixed is not None and value != rule.fixed:
            check.error("value", f"{rule.path} must be exactly {rule.fixed!r}, not {value!r}.", where)
        if rule.pattern is not None and not matches_pattern(value, rule.pattern):
            check.error("value", f"{rule.path} must match the pattern {rule.pattern!r}.", where)
        if rule.binding is not None and code is not None:
            check_binding(rule.binding, code, value, where, report)
        node = Node(value, code, companion if companion.__class__ is dict else None, parent, rule.key, index)
        if rule.types is not None and code is not None:
            profiles, targets = rule.types[code]
            if code == "Reference" and targets and value.__class__ is dict:
                check_reference(check.run, value, targets, where, parent)
            if profiles and code != "Extension" and value.__class__ is dict:
                _type_profile(check, value, profiles, where, node)
        _constraints(check, rule, node, where)
    if rule.children:
        if value.__class__ is dict and node is not None:
            _children(check, value, rule.children, where, node)
        elif companion.__class__ is dict:
            own = node or Node(None, code, companion, parent, rule.key, index)
            _children(check, companion, [r for r in rule.children if r.key != "value"], where, own)


def _constraints(check: _Check, rule: Rule, node: Node, where: str) -> None:
    for c in rule.constraints:
        run_constraint(c, check.root, node, where, check.run.report)


def _type_profile(check: _Check, value: dict, profiles: tuple[str, ...], where: str, node: Node) -> None:
    """A datatype or resource constrained to a profile (`Quantity(SimpleQuantity)`, a UK Core profile)."""
    for url in profiles:
        if url.startswith(CORE) and "/" not in url[len(CORE):]:
            continue  # a base type: the structural walk checked it
        profile = compile_profile(url, check.defs)
        if profile is not None:
            _children(check, value, profile.root.children, where, node)
            return


def _slicing(check: _Check, rule: Rule, items: list[Item], loc: str, parent: Node) -> None:
    taken: list[list[Item]] = [[] for _ in rule.slices]
    last = -1
    open_seen = False
    for item in items:
        found = next((i for i, s in enumerate(rule.slices) if _in_slice(check, s, item)), None)
        if found is None:
            if rule.rules == "closed":
                check.error("structure", f"{rule.path}: this item matches none of the slices "
                            f"({', '.join(str(s.slice_name) for s in rule.slices)}) and the slicing is closed.",
                            item[2])
            open_seen = True
            continue
        if rule.rules == "openAtEnd" and open_seen:
            check.error("structure", f"{rule.path}: the item belongs to slice {rule.slices[found].slice_name} but "
                        "comes after items of no slice (the slicing is openAtEnd).", item[2])
        if rule.ordered and found < last:
            check.error("structure", f"{rule.path}: the item belongs to slice {rule.slices[found].slice_name}, "
                        "which comes earlier: the slices are ordered.", item[2])
        last = max(last, found)
        taken[found].append(item)
    for s, got in zip(rule.slices, taken, strict=True):
        _cardinality(check, s, len(got), f"{rule.path}:{s.slice_name}", loc)
        for item in got:
            _item(check, s, item, parent)


def _in_slice(check: _Check, s: Rule, item: Item) -> bool:
    return all(_meets(check, d, item) for d in s.matchers)


def _at(value: Any, path: tuple[str, ...]) -> list[Any]:
    items = [value]
    for step in path:
        nxt: list[Any] = []
        for it in items:
            if it.__class__ is dict:
                v = it.get(step)
                if v.__class__ is list:
                    nxt.extend(x for x in v if x is not None)
                elif v is not None:
                    nxt.append(v)
        items = nxt
    return items


def _meets(check: _Check, d: Discriminator, item: Item) -> bool:
    if d.expected is None:
        return True  # the slice does not constrain this discriminator
    value, code = item[0], item[1]
    if d.kind in ("value", "pattern"):
        expected = d.expected
        return any(v == expected or (expected.__class__ in (dict, list) and matches_pattern(v, expected))
                   for v in _at(value, d.path))
    if d.kind == "type":
        if not d.path:
            found = value.get("resourceType") if value.__class__ is dict and "resourceType" in value else code
            return found in d.expected
        targets = _at(value, d.path)  # below the item only a resource tells its type (Bundle.entry.resource)
        if targets and all(t.__class__ is dict and isinstance(t.get("resourceType"), str) for t in targets):
            return any(t["resourceType"] in d.expected for t in targets)
        return True
    if d.kind == "exists":
        return bool(_at(value, d.path)) == d.expected
    if d.kind == "profile":
        for target in _at(value, d.path):
            for url in d.expected:
                profile = compile_profile(url, check.defs)
                if profile is not None and target.__class__ is dict:
                    trial = Run()
                    check_profile(trial, target, profile, check.defs)
                    if not any(i[0] == "error" for i in trial.issues):
                        return True
        return False
    return True


def _extensions(check: _Check, data: Any, loc: str, parent: Node) -> None:
    """Every extension with an absolute url against its definition, wherever it is in the resource."""
    stack: list[tuple[Any, str]] = [(data, loc)]
    while stack:
        item, where = stack.pop()
        if item.__class__ is dict:
            for key, value in item.items():
                name = key[1:] if key[0] == "_" else key
                if key in ("extension", "modifierExtension") and value.__class__ is list:
                    for i, ext in enumerate(value):
                        if ext.__class__ is dict:
                            _extension(check, ext, f"{where}.{key}[{i}]", parent)
                if value.__class__ in (dict, list):
                    stack.append((value, f"{where}.{name}"))
        elif item.__class__ is list:
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))


def _extension(check: _Check, ext: dict, where: str, parent: Node) -> None:
    url = ext.get("url")
    if not isinstance(url, str) or not _ABSOLUTE.fullmatch(url):
        return
    profile = compile_profile(url, check.defs)
    if profile is None or profile.type != "Extension":
        check.run.report("warning", "not-supported", f"The extension {url} is not known to this validator: its "
                         "content was not checked against a definition.", where)
        return
    node = Node(ext, "Extension", None, parent, "extension", None)
    inner = _Check(check.run, check.defs, check.root, url)
    _constraints(inner, profile.root, node, where)
    _children(inner, ext, profile.root.children, where, node)
