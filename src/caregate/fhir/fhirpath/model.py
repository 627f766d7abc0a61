"""FHIR JSON seen through the R4 type model: typed nodes, member navigation and the type hierarchy.

FHIRPath navigates a typed tree (https://hl7.org/fhir/R4/fhirpath.html#types): every element knows its FHIR
type, so `Observation.value` finds `valueQuantity` (choice elements, json.html#choice), `is(Quantity)`
works on it, and a primitive carries the `_name` companion holding its `id` and `extension`
(json.html#primitive), which is how `Patient.birthDate.extension(...)` and `hasValue()` work. Types come
from `caregate.fhir.definitions.element_types`; a `Node` keeps its parent, member name and index so users
(FHIRPath Patch, invariant reports) can locate the element in the resource.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

from caregate.fhir.definitions import element_types, is_domain_resource, is_resource_type
from caregate.fhir.fhirpath.errors import FhirPathSemanticError
from caregate.fhir.fhirpath.quantity import Quantity
from caregate.fhir.fhirpath.temporal import parse_date, parse_datetime, parse_time

__all__ = [
    "PRIMITIVE_TYPES",
    "Node",
    "TypeInfo",
    "children",
    "fhir_subtype_of",
    "is_known_fhir_type",
    "member_plan",
    "node_quantity",
    "node_value",
    "resource_node",
]

PRIMITIVE_TYPES = frozenset(
    [
        "boolean",
        "integer",
        "string",
        "decimal",
        "uri",
        "url",
        "canonical",
        "base64Binary",
        "instant",
        "date",
        "dateTime",
        "time",
        "code",
        "oid",
        "id",
        "markdown",
        "unsignedInt",
        "positiveInt",
        "uuid",
        "xhtml",
    ]
)
PRIMITIVE_PARENT = {
    "code": "string",
    "id": "string",
    "markdown": "string",
    "url": "uri",
    "canonical": "uri",
    "oid": "uri",
    "uuid": "uri",
    "positiveInt": "integer",
    "unsignedInt": "integer",
}
QUANTITY_PROFILES = frozenset(("Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"))
_BACKBONE_DATATYPES = frozenset(
    (
        "Timing",
        "Dosage",
        "ElementDefinition",
        "MarketingStatus",
        "Population",
        "ProdCharacteristic",
        "ProductShelfLife",
        "SubstanceAmount",
    )
)
_ABSTRACT = frozenset(("Resource", "DomainResource", "Element", "BackboneElement"))
_UCUM = "http://unitsofmeasure.org"
_STRINGISH = PRIMITIVE_TYPES - {
    "boolean",
    "integer",
    "decimal",
    "unsignedInt",
    "positiveInt",
    "date",
    "dateTime",
    "instant",
    "time",
}


class Node:
    """An element of a FHIR resource: its JSON `data`, FHIR `type` (None when unknown) and, for a
    primitive, `ext` (the `_name` object with `id`/`extension`). `parent`, `name` and `index` locate it."""

    __slots__ = ("data", "ext", "index", "name", "parent", "type")

    def __init__(
        self,
        data: Any,
        type_: str | None,
        ext: dict | None = None,
        parent: Node | None = None,
        name: str | None = None,
        index: int | None = None,
    ) -> None:
        self.data = data
        self.type = type_
        self.ext = ext
        self.parent = parent
        self.name = name
        self.index = index

    @classmethod
    def of(cls, data: Any, type_name: str | None = None) -> Node:
        """Wrap JSON as a root node; a resource's type is read from `resourceType` when not given."""
        if type_name is None and isinstance(data, dict):
            type_name = data.get("resourceType")
        return cls(data, type_name)

    @property
    def is_primitive(self) -> bool:
        return self.type in PRIMITIVE_TYPES if self.type is not None else not isinstance(self.data, dict)

    @property
    def path(self) -> str:
        """Where the node is, in FHIRPath form (`Patient.name[0].given[1]`)."""
        steps: list[str] = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            steps.append(f"{node.name}[{node.index}]" if node.index is not None else str(node.name))
            node = node.parent
        root = node.type if node is not None and node.type else "$this"
        return ".".join([root, *reversed(steps)])

    def __repr__(self) -> str:
        return f"Node({self.path}: {self.type}={self.data!r})"


class TypeInfo:
    """What `type()` returns (N1 §10.2 "Reflection"): a namespace (`System`/`FHIR`) and a name."""

    __slots__ = ("name", "namespace")

    def __init__(self, namespace: str, name: str) -> None:
        self.namespace = namespace
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TypeInfo) and (other.namespace, other.name) == (self.namespace, self.name)

    def __hash__(self) -> int:
        return hash((self.namespace, self.name))

    def __repr__(self) -> str:
        return f"{self.namespace}.{self.name}"


def resource_node(data: dict, parent: Node | None = None, name: str | None = None, index: int | None = None) -> Node:
    """A node for an embedded resource (`contained`, `Bundle.entry.resource`), typed by `resourceType`."""
    return Node(data, data.get("resourceType") if isinstance(data, dict) else None, None, parent, name, index)


@cache
def _parent_type(name: str) -> str | None:
    if name in PRIMITIVE_PARENT:
        return PRIMITIVE_PARENT[name]
    if name in PRIMITIVE_TYPES or name in QUANTITY_PROFILES:
        return "Element" if name in PRIMITIVE_TYPES else "Quantity"
    if name == "DomainResource":
        return "Resource"
    if is_resource_type(name):
        return "DomainResource" if is_domain_resource(name) else "Resource"
    if "." in name or name in _BACKBONE_DATATYPES:
        return "BackboneElement"
    if name == "BackboneElement" or (name not in ("Element", "Resource") and element_types(name) is not None):
        return "Element"
    return None


def fhir_subtype_of(actual: str, wanted: str) -> bool:
    """True when FHIR type `actual` is `wanted` or specialises it (`code` -> `string`, `Age` -> `Quantity`)."""
    t: str | None = actual
    while t is not None:
        if t == wanted:
            return True
        t = _parent_type(t)
    return False


@cache
def is_known_fhir_type(name: str) -> bool:
    """A FHIR R4 type name: primitive, datatype, resource or one of the abstract bases."""
    return name in PRIMITIVE_TYPES or name in _ABSTRACT or is_resource_type(name) or element_types(name) is not None


def _is_resource_like(type_name: str) -> bool:
    return type_name in ("Resource", "DomainResource") or is_resource_type(type_name)


@cache
def member_plan(type_name: str, name: str) -> tuple[tuple[str, str, bool], ...] | None:
    """How to read member `name` of a `type_name` value: (JSON key, FHIR type, is primitive) per candidate.

    A choice element has one candidate per allowed type (`value` -> `valueQuantity`, `valueString`, ...).
    None when the type has no such element. Raises FhirPathSemanticError for a choice element named with
    its type suffix (`valueQuantity`), which FHIRPath does not allow (fhirpath.html#polymorphism).
    """
    if name in ("extension", "modifierExtension"):
        return ((name, "Extension", False),)
    if name == "id":
        return (("id", "id" if _is_resource_like(type_name) else "string", True),)
    elements = element_types(type_name)
    if elements is None:
        return None
    types = elements.get(name)
    if types is not None:
        return ((name, types[0], types[0] in PRIMITIVE_TYPES),)
    choice = elements.get(name + "[x]")
    if choice is not None:
        return tuple((name + t[0].upper() + t[1:], t, t in PRIMITIVE_TYPES) for t in choice)
    for key, options in elements.items():
        if key.endswith("[x]") and name.startswith(key[:-3]):
            suffix = name[len(key) - 3 :]
            if any(suffix == t[0].upper() + t[1:] for t in options):
                raise FhirPathSemanticError(
                    f"{type_name}.{name}: a choice element is navigated as {key[:-3]!r} (use ofType/as)"
                )
    return None


@cache
def _json_keys(type_name: str) -> dict[str, tuple[str, bool]]:
    """Every JSON key a `type_name` object may have -> (FHIR type, is primitive), for children()."""
    keys: dict[str, tuple[str, bool]] = {
        "extension": ("Extension", False),
        "modifierExtension": ("Extension", False),
        "id": ("id" if _is_resource_like(type_name) else "string", True),
    }
    for name, types in (element_types(type_name) or {}).items():
        if name.endswith("[x]"):
            for t in types:
                keys[name[:-3] + t[0].upper() + t[1:]] = (t, t in PRIMITIVE_TYPES)
        else:
            keys[name] = (types[0], types[0] in PRIMITIVE_TYPES)
    return keys


def _make(value: Any, ctype: str | None, ext: Any, parent: Node, key: str, index: int | None) -> Node:
    if value.__class__ is dict and (ctype == "Resource" or (ctype is None and "resourceType" in value)):
        return resource_node(value, parent, key, index)
    return Node(value, ctype, ext, parent, key, index)


def read_member(out: list, item: Node, key: str, ctype: str | None, primitive: bool) -> None:
    """Append the nodes of JSON member `key` of `item` (arrays and `_key` companions aligned by index)."""
    data = item.data
    value = data.get(key)
    ext = data.get("_" + key) if primitive else None
    if value is None and ext is None:
        return
    if value.__class__ is list or ext.__class__ is list:
        values = value if value.__class__ is list else ([] if value is None else [value])
        exts = ext if ext.__class__ is list else ([] if ext is None else [ext])
        for i in range(max(len(values), len(exts))):
            v = values[i] if i < len(values) else None
            e = exts[i] if i < len(exts) else None
            if v is not None or e is not None:
                out.append(_make(v, ctype, e, item, key, i))
    else:
        out.append(_make(value, ctype, ext, item, key, None))


def children(item: Node) -> list[Node]:
    """All child elements in document order (N1 §5.8 "children()"); a primitive's are its extensions."""
    out: list[Node] = []
    data = item.data
    if data.__class__ is not dict:
        ext = item.ext
        if ext:
            if "id" in ext:
                out.append(Node(ext["id"], "string", None, item, "id"))
            read_member(out, Node(ext, None, None, item, None), "extension", "Extension", False)
            for node in out:
                node.parent = item
        return out
    keys = _json_keys(item.type) if item.type is not None else {}
    for key in data:
        if key == "resourceType" or key == "fhir_comments":
            continue
        if key[0] == "_":
            if key[1:] in data:
                continue
            key = key[1:]
        ctype, primitive = keys.get(key, (None, True))
        read_member(out, item, key, ctype, primitive)
    return out


def node_value(node: Node) -> Any:
    """The System value of a primitive node (str, bool, int, Decimal, Date, DateTime, Time); None if absent.

    Complex nodes are returned unchanged. FHIR `decimal` becomes a Decimal of the JSON number's text.
    """
    data = node.data
    if data is None or data.__class__ is dict:
        return data if data is None else node
    t = node.type
    if t in _STRINGISH:
        return data
    if t == "boolean":
        return data if data.__class__ is bool else data == "true"
    if t in ("integer", "positiveInt", "unsignedInt"):
        return data if data.__class__ is int else int(data)
    if t == "decimal":
        return data if isinstance(data, Decimal) else Decimal(repr(data) if data.__class__ is float else str(data))
    if t in ("dateTime", "instant"):
        return parse_datetime(data) or data
    if t == "date":
        return parse_date(data) or data
    if t == "time":
        return parse_time(data) or data
    if data.__class__ is float:
        return Decimal(repr(data))
    return data


def node_quantity(node: Node) -> Quantity | None:
    """A FHIR Quantity (or Age, Duration, ...) as a System.Quantity: the UCUM code when the system is UCUM,
    otherwise the code or the human unit (fhirpath.html#types)."""
    data = node.data
    if data.__class__ is not dict or data.get("value") is None:
        return None
    value = data["value"]
    number = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else str(value))
    code = data.get("code")
    unit = code if code and data.get("system", _UCUM) == _UCUM else code or data.get("unit") or "1"
    return Quantity(number, unit)


def is_quantity_type(type_name: str | None) -> bool:
    """Quantity and its profiles (Age, Duration, ...), which convert to System.Quantity."""
    return type_name == "Quantity" or type_name in QUANTITY_PROFILES
