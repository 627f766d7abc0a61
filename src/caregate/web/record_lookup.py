"""Finding records for sign-in: the Patient holding an NHS number and the Practitioner holding a staff user id
(to link users an identity provider signs in), and patients by name or NHS number (the staff patient picker).

These lookups run on the server's own behalf, before any token exists, so they go to the store directly with
ordinary FHIR search parameters (Patient `identifier`, `name`, Practitioner `identifier`). The picker's are
bounded as the member of staff's own searches would be (`Bounds`): only patients they have a legitimate
relationship with, and none whose security labels their roles may not see, so the picker tells nobody who
else exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from caregate.errors import FhirError
from caregate.fhir.nhs_number import SYSTEM as NHS_NUMBER
from caregate.search.query import parse
from caregate.search.registry import Registry
from caregate.search.viewer import Viewer
from caregate.storage.base import Page, ResourceStore

PICK_LIMIT = 20  # matches shown on the picker; a person narrows the search rather than paging
_DIGITS = re.compile(r"^\d{3} ?\d{3} ?\d{4}$")


@dataclass(frozen=True, slots=True)
class Bounds:
    """What a member of staff may reach (search.viewer.Viewer and the hidden security labels)."""

    viewer: Viewer | None = None
    hidden: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class PatientChoice:
    id: str
    name: str
    birth_date: str
    nhs_number: str


class RecordLookup:
    def __init__(self, store: ResourceStore, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    async def by_identifier(self, type_: str, system: str, value: str) -> str | None:
        """The id of the one resource of the type with that identifier; None when there is none or several
        (an ambiguous link is no link)."""
        ids = await self._ids(type_, [("identifier", f"{_escape(system)}|{_escape(value)}")], 2)
        return ids[0] if len(ids) == 1 else None

    async def patient_by_nhs_number(self, nhs_number: str) -> str | None:
        return await self.by_identifier("Patient", NHS_NUMBER, nhs_number)

    async def patient_exists(self, id_: str, bounds: Bounds | None = None) -> bool:
        """Whether the Patient exists (within the bounds, when given)."""
        if bounds is None:
            stored = await self.store.read("Patient", id_)
            return stored is not None and not stored.deleted
        page = await self._search("Patient", [("_id", _escape(id_))], 1, bounds)
        return bool(page.items)

    async def label(self, id_: str) -> str:
        """How the picker and consent page name a patient: name, birth date and NHS number."""
        stored = await self.store.read("Patient", id_)
        if stored is None or stored.deleted:
            return id_
        choice = _choice(orjson.loads(stored.json))
        return ", ".join(x for x in (choice.name, f"born {choice.birth_date}" if choice.birth_date else "",
                                     f"NHS number {choice.nhs_number}" if choice.nhs_number else "") if x)

    async def find_patients(self, text: str, limit: int = PICK_LIMIT,
                            bounds: Bounds | None = None) -> list[PatientChoice]:
        """Patients whose NHS number is the text (ten digits, spaces allowed) or whose name starts with it; at
        most `limit` of them."""
        text = text.strip()
        if not text:
            return []
        if _DIGITS.match(text):
            params = [("identifier", f"{NHS_NUMBER}|{text.replace(' ', '')}")]
        else:
            params = [("name", _escape(text))]
        page = await self._search("Patient", params, limit, bounds)
        return [_choice(orjson.loads(s.json)) for s in page.items if s.json]

    async def _ids(self, type_: str, params: list[tuple[str, str]], limit: int) -> list[str]:
        page = await self._search(type_, params, limit)
        return [s.id for s in page.items]

    async def _search(self, type_: str, params: list[tuple[str, str]], limit: int,
                      bounds: Bounds | None = None) -> Page:
        try:
            query = parse(type_, params, self.registry)
        except FhirError:  # a value the parameter cannot take matches nothing
            return Page([])
        query.total = "none"
        query.count = limit
        if bounds is not None:
            query.viewer, query.hidden = bounds.viewer, bounds.hidden
        return await self.store.search(query, limit)


def _escape(value: str) -> str:
    """Search value escaping (search.html#escaping): `\\`, `,`, `$` and `|` are taken literally."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("$", "\\$").replace("|", "\\|")


def _choice(resource: dict) -> PatientChoice:
    names = resource.get("name") or []
    name = ""
    if names and isinstance(names[0], dict):
        first = names[0]
        name = first.get("text") or " ".join([*first.get("given", []), first.get("family", "")]).strip()
    nhs = next((i.get("value", "") for i in resource.get("identifier", []) if isinstance(i, dict)
                and i.get("system") == NHS_NUMBER), "")
    return PatientChoice(resource.get("id", ""), name or "(no name)", resource.get("birthDate", ""), nhs)
