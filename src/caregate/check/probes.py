"""Search values taken from a resource: what each declared search parameter should find it by, and what not.

The value comes from evaluating the parameter's official R4 FHIRPath expression on the resource
(https://hl7.org/fhir/R4/searchparameter-registry.html), so the checker needs to know nothing of the server.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from caregate.fhir import fhirpath
from caregate.fhir.definitions import search_parameter_data

NO_SUCH = "zzq-no-such-value"
_RESOLVE_IS = re.compile(r"\.where\(resolve\(\) is (\w+)\)")


@dataclass(frozen=True, slots=True)
class Probe:
    """`value` must find the resource, `miss` must not (None when no value is surely absent)."""

    param: str
    value: str
    miss: str | None


@cache
def _definitions() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for sp in search_parameter_data():
        for base in sp.get("base") or []:
            out[(base, sp["code"])] = sp
    return out


def definition(type_: str, code: str) -> dict[str, Any] | None:
    return _definitions().get((type_, code)) or _definitions().get(("Resource", code)) \
        or _definitions().get(("DomainResource", code))


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _token(node: fhirpath.Node) -> tuple[str, str | None] | None:
    data, kind = node.data, node.type
    if kind == "CodeableConcept":
        coding = next((c for c in data.get("coding") or [] if c.get("code")), None)
        if coding is None:
            return None
        system = coding.get("system")
        return (f"{system}|{coding['code']}" if system else coding["code"]), (f"{system}|{NO_SUCH}" if system
                                                                              else NO_SUCH)
    if kind == "Coding" and data.get("code"):
        system = data.get("system")
        return (f"{system}|{data['code']}" if system else data["code"]), (f"{system}|{NO_SUCH}" if system
                                                                          else NO_SUCH)
    if kind == "Identifier" and data.get("value"):
        system = data.get("system")
        return (f"{system}|{data['value']}" if system else data["value"]), (f"{system}|{NO_SUCH}" if system
                                                                            else NO_SUCH)
    if kind == "ContactPoint" and data.get("value"):
        return data["value"], NO_SUCH
    if kind == "boolean" and isinstance(data, bool):
        return ("true" if data else "false"), ("false" if data else "true")
    if isinstance(data, str) and data:
        return data, NO_SUCH
    return None


def _string(node: fhirpath.Node) -> str | None:
    data = node.data
    if node.type == "HumanName":
        return data.get("family") or next(iter(data.get("given") or []), None) or data.get("text")
    if node.type == "Address":
        return data.get("city") or next(iter(data.get("line") or []), None) or data.get("postalCode")
    if isinstance(data, str) and data.strip():
        return data
    return None


def _date(node: fhirpath.Node) -> dt.date | None:
    data = node.data
    if node.type == "Period":
        return _day(data.get("start") or data.get("end") or "")
    if isinstance(data, str) and len(data) >= 10:
        return _day(data)
    return None


def _reference(node: fhirpath.Node) -> str | None:
    data = node.data
    if node.type == "Reference":
        ref = data.get("reference")
        return ref if isinstance(ref, str) and "/" in ref and not ref.startswith("#") else None
    return data if isinstance(data, str) and data else None


def _quantity(node: fhirpath.Node) -> tuple[str, str] | None:
    data = node.data
    if not isinstance(data, dict) or not isinstance(data.get("value"), int | float):
        return None
    value = Decimal(str(data["value"]))
    suffix = f"|{data['system']}|{data['code']}" if data.get("system") and data.get("code") else ""
    return f"{value}{suffix}", f"{value * 10 + 1000}{suffix}"


def probe(resource: dict[str, Any], code: str, type_: str) -> Probe | None:
    """What `code` should find `resource` by, or None when the resource gives no usable value."""
    sp = definition(resource["resourceType"], code)
    if sp is None or sp.get("type") != type_:
        return None
    if code == "_id":
        return Probe(code, resource["id"], NO_SUCH)
    if code == "_lastUpdated":
        day = _day((resource.get("meta") or {}).get("lastUpdated", ""))
        return None if day is None else Probe(code, f"ge{day - dt.timedelta(days=1)}", "lt1800-01-01")
    expression = (sp.get("expressions") or {}).get(resource["resourceType"]) or sp.get("expression")
    if not expression or type_ in ("composite", "special"):
        return None
    # `.where(resolve() is Patient)` needs the target; the reference's own type says the same thing.
    targets = set(_RESOLVE_IS.findall(expression))
    expression = _RESOLVE_IS.sub("", expression)
    try:
        nodes = fhirpath.evaluate(resource, expression)
    except Exception:  # an expression the engine cannot run here is not tried
        return None
    for node in nodes:
        if not isinstance(node, fhirpath.Node):
            continue
        found = _value(node, code, type_)
        if found and targets and not any(found.value.split("/")[-2:-1] == [t] for t in targets):
            continue
        if found:
            return found
    return None


def absent(resource: dict[str, Any], code: str, type_: str) -> bool:
    """True when the parameter's expression gives nothing at all on `resource`: `:missing=true` must find it."""
    sp = definition(resource["resourceType"], code)
    if sp is None or sp.get("type") != type_ or type_ in ("composite", "special") or code.startswith("_"):
        return False
    expression = (sp.get("expressions") or {}).get(resource["resourceType"]) or sp.get("expression")
    if not expression or _RESOLVE_IS.search(expression) or "resolve()" in expression:
        return False
    try:
        return fhirpath.evaluate(resource, expression) == []
    except Exception:  # an expression the engine cannot run: unknown, so not claimed absent
        return False


def _value(node: fhirpath.Node, code: str, type_: str) -> Probe | None:
    if type_ == "token":
        tok = _token(node)
        return Probe(code, *tok) if tok else None
    if type_ == "string":
        text = _string(node)
        if not text:
            return None
        return Probe(code, text if code == "phonetic" else text[:6].lower(), NO_SUCH)
    if type_ == "date":
        day = _date(node)
        return None if day is None else Probe(code, f"ge{day - dt.timedelta(days=1)}", "lt1800-01-01")
    if type_ == "reference":
        ref = _reference(node)
        if not ref:
            return None
        miss = f"{ref.rsplit('/', 1)[0]}/no-such-check" if "/" in ref else "no-such-check"
        return Probe(code, ref, miss)
    if type_ in ("quantity", "number"):
        if type_ == "number" and isinstance(node.data, int | float) and not isinstance(node.data, bool):
            value = Decimal(str(node.data))
            return Probe(code, str(value), str(value * 10 + 1000))
        q = _quantity(node)
        return Probe(code, *q) if q else None
    if type_ == "uri" and isinstance(node.data, str) and node.data:
        return Probe(code, node.data, "http://example.org/no-such-check")
    return None
