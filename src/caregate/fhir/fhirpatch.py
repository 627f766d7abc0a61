"""FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html): a Parameters resource whose `operation` parameters
add, insert, delete, replace or move elements named by FHIRPath, applied to a resource's JSON.

The rules of the page, as applied here:

- operations run in order on a copy of the resource, all or nothing; the input is never modified;
- a path must select elements of the resource itself (never through `resolve()`; `descendants()`, `repeat()`
  and `aggregate()`, whose nesting costs a power of the resource size, are refused too); `delete` of a path that
  matches nothing does nothing, every other operation needs its path to match, and exactly one element where
  one is meant (`add`, `replace`, `delete`);
- the value must have a type the target element allows (a profile of it such as Age for Quantity counts);
  a choice element takes the key of the value's type (`value` + Quantity -> `valueQuantity`); anonymous
  (backbone) values are written as nested `part`s;
- `insert` and `move` work on the whole list the path names, with 0-based indexes.

Errors are `FhirPatchError` with the location of the offending parameter part
(`Parameters.parameter[0].part[1]`) and whether the patch itself is malformed (`malformed`: HTTP 400) or could
not be applied to this resource (HTTP 422, http.html#patch).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from caregate.fhir import fhirpath
from caregate.fhir.definitions import element_types
from caregate.fhir.fhirpath import nodes as ast
from caregate.fhir.fhirpath.model import PRIMITIVE_TYPES, Node, fhir_subtype_of
from caregate.fhir.fhirpath.parser import parse
from caregate.fhir.xmlformat.model import type_model

__all__ = ["FhirPatchError", "apply", "is_fhirpath_patch"]

_OPERATIONS = ("add", "insert", "delete", "replace", "move")
_PART_NAMES = ("type", "path", "name", "value", "index", "source", "destination")
_TREE_WALKS = ("descendants", "repeat", "aggregate")  # nested, their cost grows as a power of the resource size
_NEEDS = {"add": ("path", "name", "value"), "insert": ("path", "value", "index"), "delete": ("path",),
          "replace": ("path", "value"), "move": ("path", "source", "destination")}


class FhirPatchError(ValueError):
    """A FHIRPath Patch that is malformed (`malformed`, 400) or cannot be applied (422), with its location."""

    def __init__(self, message: str, location: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.malformed = malformed


@dataclass(frozen=True, slots=True)
class _Value:
    """A value to put in the resource: its FHIR type (None for anonymous parts), JSON and `_` companion."""

    type: str | None
    json: Any
    ext: dict | None = None


@dataclass(slots=True)
class _Operation:
    kind: str
    where: str
    parts: dict[str, tuple[int, dict]]

    def at(self, name: str) -> str:
        return f"{self.where}.part[{self.parts[name][0]}]" if name in self.parts else self.where

    def string(self, name: str) -> str:
        value = self.parts[name][1].get("valueString")
        if not isinstance(value, str) or not value:
            raise FhirPatchError(f"the {name} part needs a valueString", self.at(name), malformed=True)
        return value

    def integer(self, name: str) -> int:
        value = self.parts[name][1].get("valueInteger")
        if value.__class__ is not int:
            raise FhirPatchError(f"the {name} part needs a valueInteger", self.at(name), malformed=True)
        return value


def is_fhirpath_patch(body: object) -> bool:
    """Whether a patch body is a FHIRPath Patch (a Parameters resource) rather than a JSON Patch array."""
    return isinstance(body, dict) and body.get("resourceType") == "Parameters"


def apply(resource: dict, parameters: object) -> dict:
    """Apply the operations of a FHIRPath Patch Parameters resource to a copy of `resource`."""
    operations = _operations(parameters)
    doc = copy.deepcopy(resource)
    for op in operations:
        _APPLY[op.kind](doc, op)
    return doc


def _operations(parameters: object) -> list[_Operation]:
    if not is_fhirpath_patch(parameters):
        raise FhirPatchError("a FHIRPath Patch is a Parameters resource", "Parameters", malformed=True)
    params = parameters.get("parameter", [])  # type: ignore[union-attr]
    if not isinstance(params, list):
        raise FhirPatchError("Parameters.parameter must be an array", "Parameters.parameter", malformed=True)
    out = []
    for i, param in enumerate(params):
        where = f"Parameters.parameter[{i}]"
        if not isinstance(param, dict) or param.get("name") != "operation":
            raise FhirPatchError("each parameter must be named 'operation'", where, malformed=True)
        parts: dict[str, tuple[int, dict]] = {}
        for j, part in enumerate(param.get("part") or []):
            name = part.get("name") if isinstance(part, dict) else None
            if name not in _PART_NAMES or name in parts:
                problem = "repeats" if name in parts else "is not one of " + ", ".join(_PART_NAMES)
                raise FhirPatchError(f"part {name!r} {problem}", f"{where}.part[{j}]", malformed=True)
            parts[name] = (j, part)
        if "type" not in parts:
            raise FhirPatchError("the operation has no type part", where, malformed=True)
        kind = parts["type"][1].get("valueCode", parts["type"][1].get("valueString"))
        if kind not in _OPERATIONS:
            raise FhirPatchError(f"unknown operation type {kind!r} (add, insert, delete, replace, move)",
                                 f"{where}.part[{parts['type'][0]}]", malformed=True)
        op = _Operation(kind, where, parts)
        for needed in _NEEDS[kind]:
            if needed not in parts:
                raise FhirPatchError(f"{kind} needs a {needed} part", where, malformed=True)
        out.append(op)
    return out


# -- finding elements ------------------------------------------------------------------------------


def _compile(op: _Operation) -> tuple[fhirpath.Expression, ast.Node]:
    text = op.string("path")
    try:
        tree = parse(text)
        expr = fhirpath.compile(text)
    except fhirpath.FhirPathError as e:
        raise FhirPatchError(f"the path is not valid FHIRPath: {e}", op.at("path"), malformed=True) from None
    if _calls(tree, "resolve"):
        raise FhirPatchError("a patch path must not cross resources with resolve()", op.at("path"), malformed=True)
    walking = next((name for name in _TREE_WALKS if _calls(tree, name)), None)
    if walking is not None:
        raise FhirPatchError(f"a patch path names elements; {walking}() is not accepted in one", op.at("path"),
                             malformed=True)
    return expr, tree


def _calls(tree: Any, name: str) -> bool:
    if isinstance(tree, ast.FunctionCall) and tree.name == name:
        return True
    if isinstance(tree, ast.Node):
        return any(_calls(getattr(tree, f), name) for f in tree.__dataclass_fields__)  # type: ignore[attr-defined]
    if isinstance(tree, tuple):
        return any(_calls(t, name) for t in tree)
    return False


def _select(doc: dict, op: _Operation, expr: fhirpath.Expression | None = None) -> list[Node]:
    expr = expr or _compile(op)[0]
    try:
        found = expr.evaluate(doc)
    except fhirpath.FhirPathError as e:
        raise FhirPatchError(f"the path could not be evaluated: {e}", op.at("path")) from None
    if any(item.__class__ is not Node for item in found):
        raise FhirPatchError("the path must select elements of the resource, not values", op.at("path"))
    return found


def _one(doc: dict, op: _Operation) -> Node:
    found = _select(doc, op)
    if len(found) != 1:
        what = "matches nothing" if not found else f"matches {len(found)} elements, not one"
        raise FhirPatchError(f"the path {op.string('path')!r} {what}", op.at("path"))
    return found[0]


def _container(node: Node) -> dict:
    """The JSON object holding `node`: its parent's object, or a primitive parent's `_name` companion."""
    parent = node.parent
    if parent is None:
        raise AssertionError("the resource itself has no container")
    return parent.data if isinstance(parent.data, dict) else _companion(parent)


def _set_companion(container: dict, key: str, index: int | None, ext: dict | None) -> None:
    name = "_" + key
    if index is None:
        if ext is None:
            container.pop(name, None)
        else:
            container[name] = ext
        return
    companions = container.get(name)
    if not isinstance(companions, list):
        if ext is None:
            return
        companions = container[name] = [None] * len(container.get(key) or [])
    companions.extend([None] * (index + 1 - len(companions)))
    companions[index] = ext
    if all(c is None for c in companions):
        del container[name]


# -- values and where they go ------------------------------------------------------------------------


def _companion(node: Node) -> dict:
    """A primitive's `_name` object (id and extensions), created when it has none yet."""
    if node.ext is None:
        node.ext = {}
        _set_companion(_container(node), node.name or "", node.index, node.ext)
    return node.ext


def _declared_type(part: dict, op: _Operation) -> str | None:
    """The FHIR type a value part carries (`valueHumanName` -> HumanName), None for anonymous parts."""
    keys = [k for k in part if k.startswith("value") and len(k) > 5]
    if "resource" in part and not keys:
        resource = part["resource"]
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise FhirPatchError("the resource part is not a resource", op.at("value"), malformed=True)
        return resource["resourceType"]
    if len(keys) == 1 and "part" not in part:
        suffix = keys[0][5:]
        lowered = suffix[0].lower() + suffix[1:]
        return lowered if lowered in PRIMITIVE_TYPES else suffix
    if keys or "resource" in part or not isinstance(part.get("part"), list) or not part["part"]:
        raise FhirPatchError("a value needs exactly one value[x], a resource or parts", op.at("value"), malformed=True)
    return None


def _value(part: dict, elem_type: str, op: _Operation) -> _Value:
    """Build the value of a part for an element of `elem_type` (anonymous parts become a JSON object)."""
    declared = _declared_type(part, op)
    if "resource" in part:
        return _Value(declared, copy.deepcopy(part["resource"]))
    if declared is not None:
        key = "value" + declared[0].upper() + declared[1:]
        ext = part.get("_" + key)
        return _Value(declared, copy.deepcopy(part[key]), copy.deepcopy(ext) if isinstance(ext, dict) else None)
    obj: dict = {}
    for sub in part["part"]:
        name = sub.get("name") if isinstance(sub, dict) else None
        if not isinstance(name, str) or not name:
            raise FhirPatchError("every part of a value needs a name", op.at("value"), malformed=True)
        key, inner_type, repeats = _element(elem_type, name, _declared_type(sub, op), op)
        _put(obj, key, _value(sub, inner_type, op), repeats, op)
    return _Value(None, obj)


def _element(type_name: str | None, name: str, value_type: str | None, op: _Operation) -> tuple[str, str, bool]:
    """Where a value named `name` goes in an element of `type_name`: (JSON key, element type, repeats)."""
    if name in ("extension", "modifierExtension"):
        key, elem_type, repeats = name, "Extension", True
    elif type_name is None or type_name in PRIMITIVE_TYPES:
        raise FhirPatchError(f"a {type_name or 'untyped'} element takes only extensions, not {name!r}", op.at("name"))
    else:
        choice = (element_types(type_name) or {}).get(name + "[x]")
        if choice is not None:
            allowed = [t for t in choice if value_type is not None and fhir_subtype_of(value_type, t)]
            if not allowed:
                raise FhirPatchError(f"{type_name}.{name} takes {', '.join(choice)}, not {value_type or 'parts'}",
                                     op.at("value"))
            return name + allowed[0][0].upper() + allowed[0][1:], allowed[0], False
        model = type_model(type_name)
        element = model.elements.get(name) if model is not None else None
        if element is None:
            raise FhirPatchError(f"{type_name} has no element {name!r}", op.at("name"))
        key, elem_type, repeats = name, element.type, element.repeats
    _check_type(value_type, elem_type, op)
    return key, elem_type, repeats


def _check_type(value_type: str | None, elem_type: str, op: _Operation) -> None:
    if value_type is None:
        if elem_type in PRIMITIVE_TYPES:
            raise FhirPatchError(f"a {elem_type} element takes a value[x], not parts", op.at("value"))
        return
    if elem_type == "Resource":
        model = type_model(value_type)
        if model is not None and model.is_resource:
            return
    if not fhir_subtype_of(value_type, elem_type):
        raise FhirPatchError(f"the element takes {elem_type}, not {value_type}", op.at("value"))


def _put(obj: dict, key: str, value: _Value, repeats: bool, op: _Operation) -> None:
    if repeats:
        items = obj.setdefault(key, [])
        items.append(value.json)
        if value.ext is not None:
            _set_companion(obj, key, len(items) - 1, value.ext)
        return
    if key in obj or "_" + key in obj:
        raise FhirPatchError(f"{key!r} is already present; use replace", op.at("name"))
    obj[key] = value.json
    if value.ext is not None:
        obj["_" + key] = value.ext


# -- the operations --------------------------------------------------------------------------------


def _add(doc: dict, op: _Operation) -> None:
    target = _one(doc, op)
    name = op.string("name")
    part = op.parts["value"][1]
    key, elem_type, repeats = _element(target.type, name, _declared_type(part, op), op)
    value = _value(part, elem_type, op)
    _put(target.data if isinstance(target.data, dict) else _companion(target), key, value, repeats, op)


def _choice_base(node: Node) -> str | None:
    """`value` for a node stored as `valueQuantity` when its parent's `value[x]` allows Quantity."""
    name = node.name or ""
    for key, types in (element_types(node.parent.type or "") or {}).items() if node.parent else ():
        base = key[:-3]
        if key.endswith("[x]") and name.startswith(base) and any(name == base + t[0].upper() + t[1:] for t in types):
            return base
    return None


def _replace(doc: dict, op: _Operation) -> None:
    node = _one(doc, op)
    if node.parent is None:
        raise FhirPatchError("the resource itself cannot be replaced", op.at("path"))
    part = op.parts["value"][1]
    container = _container(node)
    name = node.name or ""
    base = _choice_base(node)
    if base is not None:
        key, elem_type, _ = _element(node.parent.type, base, _declared_type(part, op), op)
        value = _value(part, elem_type, op)
        _remove(container, name, None)
        _put(container, key, value, False, op)
        return
    declared = _declared_type(part, op)
    if node.type is not None:
        _check_type(declared, node.type, op)
    value = _value(part, node.type or "", op) if declared is not None or node.type else None
    if value is None:
        raise FhirPatchError("the element's type is unknown, so parts cannot be placed", op.at("value"))
    if node.index is None:
        container[name] = value.json
    else:
        container[name][node.index] = value.json
    _set_companion(container, name, node.index, value.ext)


def _remove(container: dict, key: str, index: int | None) -> None:
    if index is None:
        container.pop(key, None)
        container.pop("_" + key, None)
        return
    for name in (key, "_" + key):
        items = container.get(name)
        if isinstance(items, list) and index < len(items):
            del items[index]
            if not items or all(i is None for i in items):
                del container[name]


def _prune(node: Node | None) -> None:
    """Remove elements a deletion left empty (`{}`, or a primitive's `_name` with nothing in it), which FHIR
    does not allow (ele-1)."""
    while node is not None and node.parent is not None:
        if isinstance(node.data, dict):
            if node.data:
                return
            _remove(_container(node), node.name or "", node.index)
        elif node.ext == {}:
            _set_companion(_container(node), node.name or "", node.index, None)
            return
        else:
            return
        node = node.parent


def _delete(doc: dict, op: _Operation) -> None:
    found = _select(doc, op)
    if not found:
        return
    if len(found) > 1:
        raise FhirPatchError(f"the path {op.string('path')!r} matches {len(found)} elements; delete takes one",
                             op.at("path"))
    node = found[0]
    if node.parent is None:
        raise FhirPatchError("the resource itself cannot be deleted", op.at("path"))
    _remove(_container(node), node.name or "", node.index)
    _prune(node.parent)


def _list(doc: dict, op: _Operation) -> tuple[dict, str, list, str | None]:
    """The list a path names (the whole list, even through where()): (container, key, items, owner type)."""
    expr, tree = _compile(op)
    found = _select(doc, op, expr)
    if found:
        parents = {id(n.parent.data) if n.parent is not None else 0 for n in found}
        names = {n.name for n in found}
        first = found[0]
        if len(parents) != 1 or len(names) != 1 or first.parent is None or first.index is None:
            raise FhirPatchError(f"the path {op.string('path')!r} does not name one list", op.at("path"))
        container = _container(first)
        return container, first.name or "", container[first.name or ""], first.parent.type
    if isinstance(tree, ast.Invocation) and isinstance(tree.member, ast.Identifier):
        owner_expr, name = tree.target, tree.member.name
    elif isinstance(tree, ast.Identifier):
        owner_expr, name = None, tree.name
    else:
        raise FhirPatchError(f"the path {op.string('path')!r} matches nothing", op.at("path"))
    owners = [Node.of(doc)] if owner_expr is None else _select(doc, op, _owner(op, tree))
    if len(owners) != 1 or not isinstance(owners[0].data, dict):
        raise FhirPatchError(f"the path {op.string('path')!r} matches nothing", op.at("path"))
    return owners[0].data, name, [], owners[0].type


def _owner(op: _Operation, tree: ast.Invocation) -> fhirpath.Expression:
    """The expression before the last `.name` of a path: the element that owns the (empty) list."""
    text = op.string("path")[: tree.member.pos].rstrip()
    return fhirpath.compile(text[:-1] if text.endswith(".") else text)


def _insert(doc: dict, op: _Operation) -> None:
    container, key, items, owner = _list(doc, op)
    index = op.integer("index")
    if not 0 <= index <= len(items):
        raise FhirPatchError(f"index {index} is outside 0..{len(items)}", op.at("index"))
    part = op.parts["value"][1]
    if not isinstance(container.get(key, []), list):
        raise FhirPatchError(f"{key!r} is not a list; use add or replace", op.at("path"))
    key, elem_type, repeats = _element(owner, key, _declared_type(part, op), op)
    if not repeats:
        raise FhirPatchError(f"{key!r} is not a list; use add or replace", op.at("path"))
    value = _value(part, elem_type, op)
    container.setdefault(key, []).insert(index, value.json)
    companions = container.get("_" + key)
    if isinstance(companions, list):
        companions.insert(index, None)
    if value.ext is not None:
        _set_companion(container, key, index, value.ext)


def _move(doc: dict, op: _Operation) -> None:
    container, key, items, _ = _list(doc, op)
    source, destination = op.integer("source"), op.integer("destination")
    for name, index in (("source", source), ("destination", destination)):
        if not 0 <= index < len(items):
            raise FhirPatchError(f"{name} {index} is outside 0..{len(items) - 1}", op.at(name))
    for name in (key, "_" + key):
        values = container.get(name)
        if isinstance(values, list):
            values.extend([None] * (len(items) - len(values)))
            values.insert(destination, values.pop(source))


_APPLY = {"add": _add, "insert": _insert, "delete": _delete, "replace": _replace, "move": _move}
