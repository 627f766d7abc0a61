"""capabilities: the CapabilityStatement at `GET [base]/metadata` (https://hl7.org/fhir/R4/http.html#capabilities).

Generated from what the server really does: every resource type of R4 with the interactions the REST layer
routes, and every search parameter the index and the query compiler handle.
"""

from __future__ import annotations

from collections.abc import Sequence

from caregate import __version__
from caregate.fhir.definitions import resource_types
from caregate.fhir.validate.structures import shipped
from caregate.search import composite
from caregate.search.registry import Registry

SEARCHABLE_TYPES = frozenset({"string", "token", "reference", "date", "number", "quantity", "uri", "composite"})
TYPE_INTERACTIONS = ("read", "vread", "update", "patch", "delete", "history-instance", "history-type",
                     "create", "search-type")


def _includes(registry: Registry, types: list[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """`_include` values each type offers, and the `_revinclude` values that reach each type."""
    include: dict[str, list[str]] = {t: ["*"] for t in types}
    revinclude: dict[str, list[str]] = {t: [] for t in types}
    for source in types:
        for code, p in sorted(registry.for_type(source).items()):
            if p.type != "reference" or not p.expression:
                continue
            include[source].append(f"{source}:{code}")
            for target in p.targets:
                if target in revinclude:
                    revinclude[target].append(f"{source}:{code}")
    return include, revinclude


_BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport"
_VALIDATE = {"name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"}
_TERMINOLOGY = {rtype: [{"name": op, "definition": f"http://hl7.org/fhir/OperationDefinition/{rtype}-{op}"}
                        for op in ops]
                for rtype, ops in (("ValueSet", ("expand", "validate-code")),
                                   ("CodeSystem", ("lookup", "validate-code", "subsumes")),
                                   ("ConceptMap", ("translate",)))}


def _subscription_topics(resource: dict, topics: Sequence[str]) -> None:
    """The Subscriptions R5 Backport IG's server profile: topic canonicals, the backport Subscription profile and
    its operations (http://hl7.org/fhir/uv/subscriptions-backport/CapabilityStatement-backport-subscription-server-r4.html)."""
    resource["extension"] = [{"url": f"{_BACKPORT}/StructureDefinition/capabilitystatement-subscriptiontopic-canonical",
                              "valueCanonical": url} for url in topics]
    resource["supportedProfile"] = [f"{_BACKPORT}/StructureDefinition/backport-subscription"]
    resource["operation"] = [_VALIDATE, *(
        {"name": name, "definition": f"{_BACKPORT}/OperationDefinition/backport-subscription-{op}"}
        for name, op in (("status", "status"), ("events", "events"), ("get-ws-binding-token", "get-ws-binding-token")))]


def _shipped_profiles() -> dict[str, list[str]]:
    """Resource type -> the canonical URLs of the shipped (UK Core) profiles on it, which validation knows."""
    out: dict[str, list[str]] = {}
    for url, sd in sorted(shipped().items()):
        if sd.get("kind") == "resource" and sd.get("derivation") == "constraint":
            out.setdefault(sd.get("type", ""), []).append(url)
    return out


def capability_statement(registry: Registry, base_url: str, date: str, topics: Sequence[str] = ()) -> dict:
    resources = []
    types = sorted(resource_types())
    include, revinclude = _includes(registry, types)
    profiles = _shipped_profiles()
    for rtype in types:
        params = [
            {"name": code, "definition": p.url, "type": p.type}
            for code, p in sorted(registry.for_type(rtype).items())
            if p.type in SEARCHABLE_TYPES and (p.expression or code in ("_id", "_lastUpdated", "_text", "_content"))
            and (p.type != "composite" or composite.supported(p, registry, rtype))
        ]
        resources.append({
            "type": rtype,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{rtype}",
            "interaction": [{"code": c} for c in TYPE_INTERACTIONS],
            "versioning": "versioned",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "not-supported",
            "conditionalUpdate": True,
            "conditionalDelete": "single",
            "referencePolicy": ["literal", "logical"],
            "searchInclude": include[rtype],
            "searchRevInclude": revinclude[rtype],
            "searchParam": params,
            "operation": [_VALIDATE, *_TERMINOLOGY.get(rtype, ())],
        })
        if rtype in profiles:
            resources[-1]["supportedProfile"] = profiles[rtype]
        if rtype == "Subscription" and topics:
            _subscription_topics(resources[-1], topics)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "caregate",
        "kind": "instance",
        "software": {"name": "caregate", "version": __version__},
        "implementation": {"description": "caregate FHIR R4 server", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json", "application/fhir+xml", "xml"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json", "application/fhir+xml"],
        **({"instantiates": [f"{_BACKPORT}/CapabilityStatement/backport-subscription-server-r4"],
            "implementationGuide": [f"{_BACKPORT}/ImplementationGuide/hl7.fhir.uv.subscriptions-backport"]}
           if topics else {}),
        "rest": [{
            "mode": "server",
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "search-system"},
                            {"code": "history-system"}],
            "searchParam": [
                {"name": "_id", "type": "token", "definition": "http://hl7.org/fhir/SearchParameter/Resource-id"},
                {"name": "_lastUpdated", "type": "date",
                 "definition": "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated"},
            ],
        }],
    }
