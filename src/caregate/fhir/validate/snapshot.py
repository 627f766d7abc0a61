"""Snapshot generation: a profile's full element list from its differential and its base
(https://hl7.org/fhir/R4/profiling.html#snapshot and structuredefinition.html#snapshot).

A differential names only what a profile changes, by element id (`Patient.identifier:nhsNumber.system`). The
snapshot starts as a copy of the base's snapshot (a base resource or datatype, or another profile: profiles on
profiles) and each differential element is merged into the element with its id, created first when needed:

- a slice (`:nhsNumber`) is a copy of the sliced element, placed after that element's other slices;
- a child of an element whose type the base does not unfold (`Patient.identifier.system`) brings in the
  elements of the type, or of the type's profile when it names one (an extension slice's definition), or of
  the element a contentReference points to; a renamed choice (`Observation.valueQuantity`) is `value[x]`.

Merging replaces what the differential states and adds its constraints to the inherited ones (invariants
accumulate, profiling.html#constraints). `resolve(url)` gives a StructureDefinition that has a snapshot.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

__all__ = ["SnapshotError", "generate_snapshot"]

Resolve = Callable[[str], dict[str, Any] | None]

_DROP = ("mapping",)


class SnapshotError(ValueError):
    """The differential cannot be applied to its base (an unknown element or base definition)."""


def generate_snapshot(sd: dict[str, Any], resolve: Resolve) -> list[dict[str, Any]]:
    """The snapshot elements of the constraint StructureDefinition `sd` (its own `snapshot` is ignored)."""
    base_url = sd.get("baseDefinition")
    if not isinstance(base_url, str):
        raise SnapshotError("The StructureDefinition has no baseDefinition.")
    base = resolve(base_url.split("|", 1)[0])
    if base is None or not base.get("snapshot", {}).get("element"):
        raise SnapshotError(f"The base definition {base_url} is not known.")
    elements = [copy.deepcopy(e) for e in base["snapshot"]["element"]]
    for el in elements:
        el.setdefault("id", el["path"])
    for diff in (sd.get("differential") or {}).get("element") or ():
        if not isinstance(diff, dict) or not isinstance(diff.get("path"), str):
            raise SnapshotError("A differential element has no path.")
        id_ = diff.get("id") or _id_of(diff)
        index = _find(elements, id_, resolve)
        _merge(elements[index], diff)
    return elements


def _id_of(diff: dict[str, Any]) -> str:
    path = diff["path"]
    return f"{path}:{diff['sliceName']}" if diff.get("sliceName") else path


def _split(id_: str) -> tuple[str, str]:
    """(parent id, last part) of an element id; the last part may carry a slice name (`identifier:nhs`).
    Slice names are tokens without dots (eld-16), so the last dot always ends the parent."""
    head, _, last = id_.rpartition(".")
    return head, last


def _find(elements: list[dict[str, Any]], id_: str, resolve: Resolve) -> int:
    for i, el in enumerate(elements):
        if el["id"] == id_:
            return i
    parent_id, last = _split(id_)
    if not parent_id:
        raise SnapshotError(f"The element {id_} is not in the base definition.")
    name, _, slice_name = last.partition(":")
    if slice_name:
        _find(elements, f"{parent_id}.{name}", resolve)  # may unfold a type that already defines the slice
        for i, el in enumerate(elements):
            if el["id"] == id_:
                return i
        return _add_slice(elements, f"{parent_id}.{name}", slice_name, resolve)
    parent = _find(elements, parent_id, resolve)
    if elements[parent]["id"] != parent_id:  # the parent was named by a type-specific choice name
        parent_id = elements[parent]["id"]
        id_ = f"{parent_id}.{last}"
        for i, el in enumerate(elements):
            if el["id"] == id_:
                return i
    renamed = _choice_rename(elements, parent_id, name)
    if renamed is not None:
        return renamed
    if not any(e["id"].startswith(parent_id + ".") for e in elements):
        _unfold(elements, parent, resolve)
        for i, el in enumerate(elements):
            if el["id"] == id_:
                return i
        renamed = _choice_rename(elements, parent_id, name)
        if renamed is not None:
            return renamed
    raise SnapshotError(f"The element {id_} is not in the base definition.")


def _choice_rename(elements: list[dict[str, Any]], parent_id: str, name: str) -> int | None:
    """`Observation.valueQuantity` in a differential is `Observation.value[x]` constrained to Quantity
    (elementdefinition.html#path: a type-specific name for a choice element restricted to one type)."""
    for i, el in enumerate(elements):
        eid = el["id"]
        if eid.startswith(parent_id + ".") and eid.endswith("[x]") and "." not in eid[len(parent_id) + 1:]:
            stem = eid[len(parent_id) + 1:-3]
            suffix = name[len(stem):]
            if name.startswith(stem) and suffix[:1].isupper():
                types = [t for t in el.get("type") or () if str(t.get("code", "")).lower() == suffix.lower()]
                if not types:
                    raise SnapshotError(f"{parent_id}.{name}: {eid} has no type {suffix}.")
                el["type"] = types
                return i
    return None


def _subtree_end(elements: list[dict[str, Any]], start: int) -> int:
    """The index after the element at `start`, its children and (for an unsliced element) its slices."""
    root = elements[start]["id"]
    end = start + 1
    while end < len(elements):
        eid = elements[end]["id"]
        if not (eid.startswith(root + ".") or eid.startswith(root + ":")):
            break
        end += 1
    return end


def _add_slice(elements: list[dict[str, Any]], sliced_id: str, slice_name: str, resolve: Resolve) -> int:
    start = _find(elements, sliced_id, resolve)
    end = _subtree_end(elements, start)
    new = copy.deepcopy(elements[start])
    new.pop("slicing", None)
    slice_id = f"{sliced_id}:{slice_name}"
    new["id"] = slice_id
    new["sliceName"] = slice_name
    new["min"] = 0  # the sliced element's minimum counts all its slices together; a slice states its own
    added = [new]
    for child in elements[start + 1:end]:  # a slice inherits the sliced element's children (profiling.html#slicing)
        if child["id"].startswith(sliced_id + "."):
            item = copy.deepcopy(child)
            item["id"] = slice_id + child["id"][len(sliced_id):]
            added.append(item)
    elements[end:end] = added
    return end


def _unfold(elements: list[dict[str, Any]], parent: int, resolve: Resolve) -> None:
    """Insert the children of the element at `parent`, taken from its type (or profile, or contentReference)."""
    el = elements[parent]
    source: list[dict[str, Any]] = []
    ref = el.get("contentReference")
    if isinstance(ref, str):
        target = ref.split("#", 1)[-1]
        source = [e for e in elements if e["path"] == target or e["path"].startswith(target + ".")]
        source = [e for e in source if ":" not in e["id"]]
        root_path = target
    else:
        types = el.get("type") or []
        if len(types) != 1:
            raise SnapshotError(f"The element {el['id']} has {len(types)} types: its children cannot be unfolded.")
        profiles = types[0].get("profile") or []
        sd = resolve(profiles[0].split("|", 1)[0]) if profiles else None
        if sd is None:
            sd = resolve("http://hl7.org/fhir/StructureDefinition/" + types[0]["code"])
        if sd is None or not sd.get("snapshot", {}).get("element"):
            raise SnapshotError(f"The type of {el['id']} is not known.")
        source = sd["snapshot"]["element"]
        root_path = source[0]["path"]
    root_id = root_path if isinstance(ref, str) else source[0].get("id", source[0]["path"])
    added = []
    for src in source[1:]:
        item = copy.deepcopy(src)
        sid = item.get("id", item["path"])
        item["id"] = el["id"] + sid[len(root_id):]
        item["path"] = el["path"] + item["path"][len(root_path):]
        added.append(item)
    elements[parent + 1:parent + 1] = added


def _merge(target: dict[str, Any], diff: dict[str, Any]) -> None:
    for key, value in diff.items():
        if key in ("id", "path") or key in _DROP:
            continue
        if key == "constraint":
            have = {c.get("key") for c in target.get("constraint", ())}
            target["constraint"] = list(target.get("constraint", ())) + [
                copy.deepcopy(c) for c in value if c.get("key") not in have]
            continue
        if key.startswith(("fixed", "pattern")):
            for old in [k for k in target if k.startswith(("fixed", "pattern"))]:
                del target[old]
        target[key] = copy.deepcopy(value)
