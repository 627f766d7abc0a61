"""The structural walk: one pass over a resource's JSON against the shapes of its types.

Every object is matched key by key against its `Shape` (model.py): unknown keys, wrong JSON types, arrays
where one value is allowed (and the reverse), empty objects, arrays and strings, primitive formats, `_name`
companions of primitives (json.html#primitive), choice elements, min/max cardinality, fixed and pattern
values, bindings, reference target types and invariants. Contained resources, Bundle entries and
Parameters resources are validated as resources in their own right, at their own location.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from caregate.fhir.fhirpath import Node
from caregate.fhir.validate import rules, uk
from caregate.fhir.validate.bindings import check_binding
from caregate.fhir.validate.invariants import run_constraint
from caregate.fhir.validate.model import ElementDef, Shape, TypeRef, element_shape, shape, type_info
from caregate.fhir.validate.primitives import PRIMITIVES

__all__ = ["Run", "check_reference", "matches_pattern", "validate_resource"]

_ELEMENT = "Element"
_REFERENCE = re.compile(
    r"(?:(?:https?://\S*?/)?([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?)"
)


class Run:
    """The issues found in one validation, de-duplicated as they are reported."""

    __slots__ = ("issues", "root", "seen")

    def __init__(self) -> None:
        self.issues: list[tuple[str, str, str, str]] = []
        self.seen: set[tuple[str, str, str, str]] = set()
        self.root: Node | None = None

    def report(self, severity: str, code: str, message: str, loc: str) -> None:
        item = (severity, code, message, loc)
        if item not in self.seen:
            self.seen.add(item)
            self.issues.append(item)


def validate_resource(run: Run, data: Any, loc: str | None, parent: Node | None = None, key: str | None = None,
                      index: int | None = None) -> None:
    """Validate `data` as a resource of the type its `resourceType` names."""
    where = loc or "Resource"
    if data.__class__ is not dict:
        run.report("error", "structure", "A resource must be a JSON object.", where)
        return
    rtype = data.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        run.report("error", "structure", "The resource has no resourceType.", where)
        return
    info = type_info(rtype)
    if info is None or info["kind"] != "resource" or info["abstract"] or info["base"] not in (
            "DomainResource", "Resource"):
        run.report("error", "structure", f"'{rtype}' is not a FHIR R4 resource type.",
                   f"{where}.resourceType" if loc else "resourceType")
        return
    node = Node(data, rtype, None, parent, key, index)
    if run.root is None:
        run.root = node
    resource_shape = shape(rtype)
    assert resource_shape is not None
    _object(run, data, resource_shape, loc or rtype, node, True)
    if rtype == "Bundle":
        rules.bundle(data, loc or rtype, run.report)


def _object(run: Run, data: dict, shp: Shape, loc: str, node: Node, is_resource: bool = False) -> None:
    keys = shp.keys
    report = run.report
    for key, value in data.items():
        if key[0] == "_":
            entry = keys.get(key[1:])
            if entry is None or entry[1].code not in PRIMITIVES:
                report("error", "structure", f"Unknown element '{key}': {shp.name} has no primitive element "
                       f"'{key[1:]}'.", f"{loc}.{key}")
                continue
            _companion(run, data, key, value, entry[0], loc, node)
            continue
        entry = keys.get(key)
        if entry is None:
            if is_resource and key == "resourceType":
                continue
            report("error", "structure", f"Unknown element '{key}' in {shp.name}.", f"{loc}.{key}")
            continue
        _member(run, data, key, value, entry[0], entry[1], loc, node)
    for ed in shp.required:
        count = sum(_count(data, k) for k in shp.choices[ed.name]) if ed.choice else _count(data, ed.name)
        if count < ed.min:
            report("error", "required", f"{ed.path}: at least {ed.min} required, but found {count}.", loc)
    for ed in shp.limited:
        count = _count(data, ed.name)
        if ed.max is not None and count > ed.max:
            report("error", "structure", f"{ed.path}: at most {ed.max} allowed, but found {count}.", loc)
    for name, choice_keys in shp.choices.items():
        present = [k for k in choice_keys if k in data or "_" + k in data]
        if len(present) > 1:
            report("error", "structure", f"Only one of {', '.join(present)} may be present: they are types of the "
                   f"same choice element {name}[x].", loc)
    if shp.constraints and run.root is not None:
        for c in shp.constraints:
            run_constraint(c, run.root, node, loc, report)


def _count(data: dict, key: str) -> int:
    value = data.get(key)
    ext = data.get("_" + key)
    if value is None and ext is None:
        return 0
    if value.__class__ is list or ext.__class__ is list:
        return max(len(value) if value.__class__ is list else 0, len(ext) if ext.__class__ is list else 0)
    return 1


def _companion(run: Run, data: dict, key: str, value: Any, ed: ElementDef, loc: str, parent: Node) -> None:
    """`_name`: the id and extensions of a primitive, an object (or an array aligned with the values)."""
    name = key[1:]
    where = f"{loc}.{name}"
    element = shape(_ELEMENT)
    assert element is not None
    if ed.repeats:
        if value.__class__ is not list:
            run.report("error", "structure", f"'{key}' must be an array, aligned with '{name}'.", where)
            return
        values = data.get(name)
        if values.__class__ is list and len(values) != len(value):
            run.report("error", "structure", f"'{key}' has {len(value)} entries but '{name}' has {len(values)}: "
                       "they must be aligned.", where)
        items = list(enumerate(value))
    else:
        items = [(None, value)]
    for i, item in items:
        at = where if i is None else f"{where}[{i}]"
        if item is None and i is not None:
            continue
        if item.__class__ is not dict:
            run.report("error", "structure", f"'{key}' must hold JSON objects (id and extensions of the value).", at)
            continue
        if not item or (len(item) == 1 and "id" in item and _value_at(data.get(name), i) is None):
            run.report("error", "value", "Empty element: it must have a value or children (ele-1).", at)
            continue
        _object(run, item, element, at, Node(item, _ELEMENT, None, parent, name, i))


def _value_at(values: Any, i: int | None) -> Any:
    if i is None:
        return values
    return values[i] if values.__class__ is list and i < len(values) else None


def _member(run: Run, data: dict, key: str, value: Any, ed: ElementDef, tref: TypeRef, loc: str,
            parent: Node) -> None:
    report = run.report
    where = f"{loc}.{ed.name}.ofType({tref.code})" if ed.choice else f"{loc}.{key}"
    if ed.max == 0:
        report("error", "structure", f"{ed.path} is not allowed here (max 0).", where)
        return
    if ed.repeats:
        if value.__class__ is not list:
            report("error", "structure", f"'{key}' must be a JSON array: {ed.path} can repeat.", where)
            return
        if not value:
            report("error", "structure", f"'{key}' is an empty array: leave the element out instead.", where)
            return
        ext = data.get("_" + key)
        for i, item in enumerate(value):
            if item is None:
                has_ext = ext.__class__ is list and i < len(ext) and ext[i] is not None
                if not has_ext:
                    report("error", "structure", f"Null in '{key}' without a matching '_{key}' entry.",
                           f"{where}[{i}]")
                continue
            _item(run, item, ed, tref, f"{where}[{i}]", parent, key, i)
    else:
        if value.__class__ is list:
            report("error", "structure", f"'{key}' must not be an array: {ed.path} has at most one value.", where)
            return
        if value is None:
            if "_" + key not in data:
                report("error", "structure", f"'{key}' is null: leave the element out instead.", where)
            return
        _item(run, value, ed, tref, where, parent, key, None)


def _item(run: Run, value: Any, ed: ElementDef, tref: TypeRef, where: str, parent: Node, key: str,
          index: int | None) -> None:
    report = run.report
    code = tref.code
    check = PRIMITIVES.get(code)
    node: Node | None = None
    if check is not None:
        problem = check(value)
        if problem is not None:
            kind = "structure" if problem.startswith("must be a JSON") else "value"
            report("error", kind, f"{ed.path}: {problem}.", where)
            return
        if code == "xhtml":
            rules.narrative_div(value, where, report)
    elif code == "Resource" or _is_resource(code):
        validate_resource(run, value, where, parent, key, index)
        return
    else:
        if value.__class__ is not dict:
            report("error", "structure", f"{ed.path} is a {code}: it must be a JSON object.", where)
            return
        if not value:
            report("error", "value", "Empty element: it must have a value or children.", where)
            return
        shp = element_shape(ed, code)
        if tref.profiles:
            shp = shape(tref.profiles[0]) or shp
        if shp is None:
            return
        node = Node(value, shp.name if ed.content_ref or code in ("BackboneElement", _ELEMENT) else code, None,
                    parent, key, index)
        _object(run, value, shp, where, node)
        if code == "Extension":
            _extension(run, value, where)
            rules.extension_url(value, where, parent.type == "Extension", report)
        elif code == "Coding":
            rules.coding(value, where, report)
        elif code == "Attachment":
            rules.attachment(value, where, report)
        elif code == "Reference" and tref.targets:
            check_reference(run, value, tref.targets, where, parent)
        elif code == "Identifier":
            uk.check_identifier(value, where, report)
    if ed.binding is not None:
        check_binding(ed.binding, code, value, where, report)
    if ed.fixed is not None and value != ed.fixed:
        report("error", "value", f"{ed.path} must be exactly {ed.fixed!r}.", where)
    if ed.pattern is not None and not matches_pattern(value, ed.pattern):
        report("error", "value", f"{ed.path} must match the pattern {ed.pattern!r}.", where)
    if ed.constraints and run.root is not None:
        for c in ed.constraints:
            if node is None:
                node = Node(value, code, None, parent, key, index)
            run_constraint(c, run.root, node, where, report)


@cache
def _is_resource(code: str) -> bool:
    info = type_info(code)
    return info is not None and info["kind"] == "resource"


def _extension(run: Run, ext: dict, where: str) -> None:
    """ext-1: either nested extensions or a value, never both (extensibility.html)."""
    has_value = any(k.startswith(("value", "_value")) for k in ext)
    if has_value == bool(ext.get("extension")):
        run.report("error", "invariant", "Constraint ext-1 failed: Must have either extensions or value[x], "
                   "not both.", where)


def check_reference(run: Run, ref: dict, targets: tuple[str, ...], where: str, parent: Node) -> None:
    """The type named by a reference (or of the contained resource it points to) must be an allowed target."""
    if "Resource" in targets:
        return
    text = ref.get("reference")
    found: str | None = None
    if isinstance(text, str):
        if text.startswith("#"):
            found = _contained_type(parent, text[1:])
        elif not text.startswith("urn:"):
            match = _REFERENCE.fullmatch(text)
            found = match.group(1) if match else None
    rtype = ref.get("type")
    if found is None and isinstance(rtype, str) and "/" not in rtype:
        found = rtype
    if found is None:
        return
    if type_info(found) is None or type_info(found)["kind"] != "resource":
        run.report("error", "structure", f"'{found}' in the reference is not a FHIR resource type.", where)
    elif found not in targets:
        run.report("error", "structure", f"The reference points to {found}, which is not a valid target here "
                   f"(allowed: {', '.join(targets)}).", where)


def _contained_type(node: Node | None, id_: str) -> str | None:
    while node is not None:
        if node.data.__class__ is dict and "resourceType" in node.data:
            contained = node.data.get("contained")
            for res in contained if contained.__class__ is list else ():
                if isinstance(res, dict) and res.get("id") == id_:
                    rtype = res.get("resourceType")
                    return rtype if isinstance(rtype, str) else None
            if node.name != "contained":
                return None
        node = node.parent
    return None


def matches_pattern(value: Any, pattern: Any) -> bool:
    """Pattern matching (elementdefinition-definitions.html#ElementDefinition.pattern_x_): every property of
    the pattern is in the value; every item of a pattern array matches some item of the value's."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(matches_pattern(value.get(k), v) for k, v in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(matches_pattern(v, p) for v in value) for p in pattern)
    return value == pattern
