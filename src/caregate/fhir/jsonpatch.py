"""JSON Patch (RFC 6902) on plain JSON values, as FHIR's patch interaction uses it
(https://hl7.org/fhir/R4/http.html#patch). A failed `test` or a bad path raises `PatchError` with the
operation's index so the client can find it; the input is never modified.
"""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"Patch operation {index}: {message}")
        self.index = index


def _tokens(pointer: str, index: int) -> list[str]:
    """RFC 6901 JSON Pointer tokens."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(index, f"path {pointer!r} must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _child(node: Any, tok: str, index: int) -> Any:
    if isinstance(node, dict):
        if tok not in node:
            raise PatchError(index, f"'{tok}' does not exist")
        return node[tok]
    if isinstance(node, list):
        return node[_list_index(node, tok, index, allow_end=False)]
    raise PatchError(index, f"cannot descend into a {type(node).__name__} at '{tok}'")


def _list_index(node: list, tok: str, index: int, *, allow_end: bool) -> int:
    if tok == "-" and allow_end:
        return len(node)
    if not tok.isdigit() or (len(tok) > 1 and tok[0] == "0"):
        raise PatchError(index, f"'{tok}' is not an array index")
    pos = int(tok)
    if pos > len(node) or (pos == len(node) and not allow_end):
        raise PatchError(index, f"array index {pos} is out of range")
    return pos


def _get(doc: Any, path: str, index: int) -> Any:
    node = doc
    for tok in _tokens(path, index):
        node = _child(node, tok, index)
    return node


def _parent(doc: Any, path: str, index: int) -> tuple[Any, str]:
    tokens = _tokens(path, index)
    if not tokens:
        raise PatchError(index, "the path must name a member, not the whole resource")
    return _get(
        doc,
        "/" + "/".join(t.replace("~", "~0").replace("/", "~1") for t in tokens[:-1])
        if len(tokens) > 1
        else "",
        index,
    ), tokens[-1]


def _add(doc: Any, path: str, value: Any, index: int) -> None:
    parent, last = _parent(doc, path, index)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_list_index(parent, last, index, allow_end=True), value)
    else:
        raise PatchError(index, f"cannot add to a {type(parent).__name__}")


def _remove(doc: Any, path: str, index: int) -> Any:
    parent, last = _parent(doc, path, index)
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(index, f"'{last}' does not exist")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_list_index(parent, last, index, allow_end=False))
    raise PatchError(index, f"cannot remove from a {type(parent).__name__}")


def apply(document: Any, operations: Any) -> Any:
    """Apply RFC 6902 operations in order to a copy of `document`; all or nothing."""
    if not isinstance(operations, list):
        raise PatchError(0, "a JSON Patch document is an array of operations")
    doc = copy.deepcopy(document)
    for i, op in enumerate(operations):
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise PatchError(i, "each operation needs 'op' and a string 'path'")
        kind, path = op.get("op"), op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(i, f"'{kind}' needs a 'value'")
        if kind == "add":
            _add(doc, path, copy.deepcopy(op["value"]), i)
        elif kind == "remove":
            _remove(doc, path, i)
        elif kind == "replace":
            _remove(doc, path, i)
            _add(doc, path, copy.deepcopy(op["value"]), i)
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise PatchError(i, f"'{kind}' needs a string 'from'")
            if kind == "move" and path.startswith(source + "/"):
                raise PatchError(i, "cannot move a value into one of its own children")
            value = _remove(doc, source, i) if kind == "move" else copy.deepcopy(_get(doc, source, i))
            _add(doc, path, value, i)
        elif kind == "test":
            if _get(doc, path, i) != op["value"]:
                raise PatchError(i, f"test failed: the value at {path!r} is not the expected value")
        else:
            raise PatchError(i, f"unknown op {kind!r}")
    return doc
