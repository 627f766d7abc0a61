"""What the server says it does: a reading of its CapabilityStatement (https://hl7.org/fhir/R4/capabilitystatement.html).

Mandatory tests follow from it: whatever a server declares, it must do.
"""

from __future__ import annotations

from typing import Any

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


class Capability:
    def __init__(self, statement: dict[str, Any] | None) -> None:
        self.statement = statement if isinstance(statement, dict) else {}
        rests = self.statement.get("rest") or []
        self.rest: dict[str, Any] = next((r for r in rests if isinstance(r, dict) and r.get("mode") == "server"),
                                         rests[0] if rests and isinstance(rests[0], dict) else {})
        self._resources = {r.get("type"): r for r in self.rest.get("resource") or [] if isinstance(r, dict)}

    @property
    def present(self) -> bool:
        return self.statement.get("resourceType") == "CapabilityStatement"

    def types(self) -> list[str]:
        return [t for t in self._resources if isinstance(t, str)]

    def resource(self, type_: str) -> dict[str, Any]:
        return self._resources.get(type_) or {}

    def interactions(self, type_: str) -> set[str]:
        return {i.get("code") for i in self.resource(type_).get("interaction") or [] if isinstance(i, dict)}

    def supports(self, type_: str, interaction: str) -> bool:
        return interaction in self.interactions(type_)

    def system_interactions(self) -> set[str]:
        return {i.get("code") for i in self.rest.get("interaction") or [] if isinstance(i, dict)}

    def search_params(self, type_: str) -> dict[str, str]:
        """Declared search parameters of a type, name -> type (token, string, date, ...)."""
        return {p["name"]: p.get("type", "") for p in self.resource(type_).get("searchParam") or []
                if isinstance(p, dict) and isinstance(p.get("name"), str)}

    def formats(self) -> list[str]:
        return [f for f in self.statement.get("format") or [] if isinstance(f, str)]

    def declares_xml(self) -> bool:
        return any(f in ("xml", "application/fhir+xml", "text/xml", "application/xml") for f in self.formats())

    def security(self) -> dict[str, Any]:
        return self.rest.get("security") or {}

    def declares_security(self) -> bool:
        sec = self.security()
        return bool(sec.get("service") or any(e.get("url") == OAUTH_URIS for e in sec.get("extension") or []))

    def declares_smart(self) -> bool:
        sec = self.security()
        codes = {c.get("code") for s in sec.get("service") or [] for c in s.get("coding") or []}
        return "SMART-on-FHIR" in codes or any(e.get("url") == OAUTH_URIS for e in sec.get("extension") or [])

    def operations(self) -> set[str]:
        """Operation names declared at system level and on any type, without the `$`."""
        names = {o.get("name", "").lstrip("$") for o in self.rest.get("operation") or [] if isinstance(o, dict)}
        for r in self._resources.values():
            names |= {o.get("name", "").lstrip("$") for o in r.get("operation") or [] if isinstance(o, dict)}
        return names

    def type_operations(self, type_: str) -> set[str]:
        return {o.get("name", "").lstrip("$") for o in self.resource(type_).get("operation") or []
                if isinstance(o, dict)}

    def declares_export(self) -> bool:
        return "export" in self.operations()

    def declares_subscriptions(self) -> bool:
        return self.supports("Subscription", "create")

    def conditional(self, type_: str, what: str) -> Any:
        return self.resource(type_).get(what)
