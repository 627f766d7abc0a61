"""The searches `bench/search.py` times, each with the SQL a person would write by hand for the same answer.

Values are read back from the loaded data (`pick`) so every search returns something: one patient with a long
record and an active prescription, that patient's most frequent observation code and dates, a laboratory
code about 2% of observations carry, the commonest condition code, a UCUM unit with values above 100.

The hand-written SQL (the floor) keeps caregate's semantics exactly (the same inclusive [lo, hi] range tests
per date prefix, the same normalised prefix match for strings, the same canonical-unit rows for quantities)
so it returns the same rows; what it changes is the shape: it starts from the most selective index row,
checks the other conditions with EXISTS on the same surrogate key, and asks for no total. Index rows exist
only for current, undeleted versions, so a floor never joins back to `resources` to check another resource.
Every floor returns (type, id, json) rows in caregate's page order (the surrogate key, or the sort key), LIMIT
20, with included resources appended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson

from caregate.search.dates import parse_range
from caregate.search.extract import CANONICAL, normalize
from caregate.search.ucum import SYSTEM as UCUM
from caregate.search.ucum import canonical

PAGE = 20
LOINC = "http://loinc.org"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
_TOP = "\U0010ffff"  # upper bound of a string prefix range, as the compiler uses
_JSON = re.compile(r"<JSON:(\w+)>")
_BY = re.compile(r"<BY:(\w+)>")


class Rows(Protocol):
    """A connection that runs `?`-placeholder SQL on the engine under test (`bench.search.Floor`)."""

    dialect: Any

    def rows(self, sql: str, args: Any) -> list[tuple]: ...


@dataclass(frozen=True, slots=True)
class FloorSql:
    """Hand-written SQL with `?` placeholders and a few markers for what a person tuning each engine would write:
    `<JSON:alias>` reads an alias's stored JSON as caregate reads it (a BLOB on SQLite, JSONB as text on
    PostgreSQL), so both sides move the same bytes; `<X>` is a join whose order is fixed on SQLite (CROSS JOIN),
    which would otherwise start from the type index; `<BY:index>` makes SQLite probe that index (INDEXED BY),
    which without statistics it would pass over for a longer but unselective one. PostgreSQL plans both alone."""

    template: str
    args: tuple

    def sql(self, dialect: Any) -> str:
        sqlite = dialect.name == "sqlite"
        text = _JSON.sub(lambda m: dialect.json_select.replace("r.", f"{m.group(1)}."), self.template)
        text = text.replace("<X>", "CROSS JOIN" if sqlite else "JOIN")
        return _BY.sub(lambda m: f"INDEXED BY {m.group(1)}" if sqlite else "", text)


@dataclass(frozen=True, slots=True)
class Case:
    key: str
    title: str
    type: str
    params: tuple[tuple[str, str], ...]
    floor: FloorSql
    compartment: tuple[str, str, tuple[str, ...]] | None = None
    follow: int = 0  # next links to follow before the timed page
    exempt: bool = False  # not held to the 20 ms target
    note: str = ""

    @property
    def count_only(self) -> bool:
        return ("_summary", "count") in self.params

    @property
    def url(self) -> str:
        path = self.type
        if self.compartment is not None:
            path = f"{self.compartment[0]}/{self.compartment[1]}/{self.type}"
        return f"{path}?{urlencode(self.params, safe='|:,/')}"


@dataclass(slots=True)
class Picks:
    """Search values read back from the stored data."""

    patient: str
    patient_observations: int
    family: str
    birth_year: str
    nhs_number: str
    obs_system: str
    obs_code: str
    obs_from: str
    obs_to: str
    lab_system: str
    lab_code: str
    condition_system: str
    condition_code: str
    condition_word: str
    encounter_from: str
    unit: str
    extra: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return (f"patient {self.patient} ({self.family}, born {self.birth_year}, NHS {self.nhs_number}, "
                f"{self.patient_observations} observations); their commonest observation {self.obs_code} "
                f"{self.obs_from}..{self.obs_to}; lab code {self.lab_code}; condition {self.condition_code} "
                f"('{self.condition_word}'); encounters from {self.encounter_from}; unit {self.unit}")


def _day(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).date().isoformat()


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def pick(conn: Rows) -> Picks:
    """Choose the search values from what is stored, the same way at every size.

    The patient is, among the first 300 patients stored (the same people at every size, since the generator
    is deterministic), the one with most observations who also has an active prescription: a clinician's
    busy patient rather than an average one, and one for whom every patient-scoped search returns rows."""
    json = conn.dialect.json_select
    # SQLite, without statistics, would start these joins from every row of the code or date parameter and
    # probe the patient's rows for each (minutes at 1M); CROSS JOIN keeps it on the patient's rows first.
    join = "CROSS JOIN" if conn.dialect.name == "sqlite" else "JOIN"
    patients = conn.rows(f"SELECT r.id, {json} FROM resources r WHERE r.type = 'Patient' AND r.deleted = 0 "
                         "ORDER BY r.rid LIMIT 300", ())
    ids = [p[0] for p in patients]
    bodies = {p[0]: orjson.loads(p[1]) for p in patients}
    active = {row[0] for row in conn.rows(
        "SELECT x.tid FROM idx_token t JOIN idx_ref x ON x.rid = t.rid WHERE t.p = 'MedicationRequest.status' "
        "AND t.code = 'active' AND x.p = 'MedicationRequest.patient' AND x.ttype = 'Patient' "
        f"AND x.tid IN ({_marks(len(ids))})", ids)}
    counts = dict(conn.rows("SELECT tid, COUNT(*) FROM idx_ref WHERE p = 'Observation.patient' AND "
                            f"ttype = 'Patient' AND tid IN ({_marks(len(ids))}) GROUP BY tid", ids))
    candidates = [i for i in ids if i in active] or ids
    patient = max(candidates, key=lambda i: (counts.get(i, 0), i))
    body = bodies[patient]
    family = body["name"][0]["family"]
    nhs = next(i["value"] for i in body["identifier"] if i.get("system") == NHS_NUMBER)

    system, code, _ = conn.rows(
        f"SELECT t.system, t.code, COUNT(*) FROM idx_ref x {join} idx_token t ON t.rid = x.rid "
        "WHERE x.p = 'Observation.patient' AND x.tid = ? AND x.ttype = 'Patient' AND t.p = 'Observation.code' "
        "AND t.system IS NOT NULL GROUP BY t.system, t.code ORDER BY COUNT(*) DESC, t.code LIMIT 1", (patient,))[0]
    dates = [row[0] for row in conn.rows(
        f"SELECT d.lo FROM idx_ref x {join} idx_token t ON t.rid = x.rid {join} idx_date d ON d.rid = x.rid "
        "WHERE x.p = 'Observation.patient' AND x.tid = ? AND x.ttype = 'Patient' AND t.p = 'Observation.code' "
        "AND t.code = ? AND t.system = ? AND d.p = 'Observation.date' ORDER BY d.lo", (patient, code, system))]

    sample = conn.rows(
        "SELECT t.system, t.code, COUNT(*) FROM idx_token t WHERE t.p = 'Observation.code' AND t.system = ? "
        "AND t.rid IN (SELECT rid FROM resources WHERE type = 'Observation' ORDER BY rid LIMIT 20000) "
        "GROUP BY t.system, t.code", (LOINC,))
    sampled = sum(n for _, _, n in sample) or 1
    lab_system, lab_code, _ = min(sample, key=lambda r: (abs(r[2] / sampled - 0.02), r[1]))

    cond_system, cond_code, _ = conn.rows(
        "SELECT t.system, t.code, COUNT(*) FROM idx_token t WHERE t.p = 'Condition.code' AND t.system IS NOT NULL "
        "AND t.rid IN (SELECT rid FROM resources WHERE type = 'Condition' ORDER BY rid LIMIT 20000) "
        "GROUP BY t.system, t.code ORDER BY COUNT(*) DESC, t.code LIMIT 1", ())[0]
    cond_body = orjson.loads(conn.rows(
        f"SELECT {json} FROM resources r WHERE r.rid = (SELECT MIN(rid) FROM idx_token WHERE p = 'Condition.code' "
        "AND code = ? AND system = ?)", (cond_code, cond_system))[0][0])
    display = next(c.get("display", "") for c in cond_body["code"]["coding"] if c.get("code") == cond_code)
    word = max(re.findall(r"[A-Za-z]+", display) or ["condition"], key=len).lower()

    encounters = [row[0] for row in conn.rows(
        f"SELECT d.lo FROM idx_ref x {join} idx_date d ON d.rid = x.rid WHERE x.p = 'Encounter.patient' AND "
        "x.tid = ? AND x.ttype = 'Patient' AND d.p = 'Encounter.date' ORDER BY d.lo", (patient,))]
    unit = conn.rows(
        "SELECT code, COUNT(*) FROM idx_quantity WHERE p = 'Observation.value-quantity' AND system = ? AND "
        "value > 100.5 GROUP BY code ORDER BY COUNT(*) DESC, code LIMIT 1", (UCUM,))[0][0]
    return Picks(
        patient=patient, patient_observations=counts.get(patient, 0), family=family,
        birth_year=body["birthDate"][:4], nhs_number=nhs, obs_system=system, obs_code=code,
        obs_from=_day(dates[len(dates) // 4]), obs_to=_day(dates[(3 * len(dates)) // 4]),
        lab_system=lab_system, lab_code=lab_code, condition_system=cond_system, condition_code=cond_code,
        condition_word=word, encounter_from=_day(encounters[len(encounters) // 2]), unit=unit,
    )


# -- the floors' building blocks --------------------------------------------------------------------------
_COLS = "r.type, r.id, <JSON:r>"


def _ge(text: str) -> tuple[str, list]:
    """caregate's `ge` on a stored [lo, hi]: ends after the value's range, or lies within it."""
    lo, hi = parse_range(text)
    return "(d.hi > ? OR (d.lo >= ? AND d.hi <= ?))", [hi, lo, hi]


def _le(text: str) -> tuple[str, list]:
    lo, hi = parse_range(text)
    return "(d.lo < ? OR (d.lo >= ? AND d.hi <= ?))", [lo, lo, hi]


def _eq(text: str) -> tuple[str, list]:
    lo, hi = parse_range(text)
    return "(d.lo >= ? AND d.hi <= ?)", [lo, hi]


def _date_exists(alias_rid: str, p: str, cond: tuple[str, list]) -> tuple[str, list]:
    return (f"EXISTS (SELECT 1 FROM idx_date d <BY:idx_date_rid> WHERE d.rid = {alias_rid} AND d.p = ? AND {cond[0]})",
            [p, *cond[1]])


def _page(type_: str, where: str) -> str:
    """A page in caregate's order: resources of the type whose surrogate key the subquery yields, joined from
    that subquery (started from its most selective index) rather than found by scanning the type."""
    return (f"SELECT {_COLS} FROM (SELECT DISTINCT {where}) m <X> resources r ON r.rid = m.rid "
            f"WHERE r.type = '{type_}' AND r.deleted = 0 ORDER BY r.rid LIMIT {PAGE}")


def cases(k: Picks) -> list[Case]:
    """The searches, in the order of the brief; (15) has two forms, the filter and the full-text one."""
    out: list[Case] = []
    patient = k.patient
    obs_token = f"{k.obs_system}|{k.obs_code}"

    # 1. one patient's observations of one code in a date range
    ge, le = _date_exists("x.rid", "Observation.date", _ge(k.obs_from)), \
        _date_exists("x.rid", "Observation.date", _le(k.obs_to))
    out.append(Case(
        "1", "patient's observations by code and date range", "Observation",
        (("patient", f"Patient/{patient}"), ("code", obs_token), ("date", f"ge{k.obs_from}"),
         ("date", f"le{k.obs_to}")),
        FloorSql(_page("Observation", "x.rid AS rid FROM idx_ref x WHERE x.p = 'Observation.patient' "
                       "AND x.tid = ? AND x.ttype = 'Patient' AND EXISTS (SELECT 1 FROM idx_token t "
                       "<BY:idx_token_rid> WHERE t.rid = x.rid AND t.p = 'Observation.code' AND t.code = ? "
                       f"AND t.system = ?) AND {ge[0]} AND {le[0]}"),
                 (patient, k.obs_code, k.obs_system, *ge[1], *le[1]))))

    # 2. patients by family-name prefix and year of birth
    prefix = k.family[:3]
    norm = normalize(prefix)
    born = _date_exists("s.rid", "Patient.birthdate", _eq(k.birth_year))
    out.append(Case(
        "2", "patients by family prefix and birthdate", "Patient",
        (("family", prefix), ("birthdate", k.birth_year)),
        FloorSql(_page("Patient", "s.rid AS rid FROM idx_string s WHERE s.p = 'Patient.family' AND "
                       f"s.norm >= ? AND s.norm < ? AND {born[0]}"),
                 (norm, norm + _TOP, *born[1]))))

    # 3. conditions by SNOMED code (population)
    out.append(Case(
        "3", "conditions by SNOMED code", "Condition",
        (("code", f"{k.condition_system}|{k.condition_code}"),),
        FloorSql(_page("Condition", "t.rid AS rid FROM idx_token t WHERE t.p = 'Condition.code' AND "
                       "t.code = ? AND t.system = ?"), (k.condition_code, k.condition_system))))

    # 4. observations of a lab code with their patients
    out.append(Case(
        "4", "lab observations + _include=Observation:subject", "Observation",
        (("code", f"{k.lab_system}|{k.lab_code}"), ("_include", "Observation:subject")),
        FloorSql(
            "WITH page AS (SELECT r.rid, r.type, r.id, <JSON:r> AS json FROM resources r WHERE r.type = "
            "'Observation' AND r.deleted = 0 AND r.rid IN (SELECT t.rid FROM idx_token t WHERE t.p = "
            f"'Observation.code' AND t.code = ? AND t.system = ?) ORDER BY r.rid LIMIT {PAGE}) "
            "SELECT type, id, json FROM page UNION ALL "
            "SELECT pt.type, pt.id, <JSON:pt> FROM resources pt WHERE pt.type = 'Patient' AND pt.deleted = 0 AND "
            "pt.id IN (SELECT x.tid FROM idx_ref x WHERE x.rid IN (SELECT rid FROM page) AND "
            "x.p = 'Observation.subject' AND x.ttype = 'Patient')",
            (k.lab_code, k.lab_system))))

    # 5. one patient with every observation about them
    out.append(Case(
        "5", "Patient by id + _revinclude=Observation:subject", "Patient",
        (("_id", patient), ("_revinclude", "Observation:subject")),
        FloorSql(
            f"SELECT {_COLS} FROM resources r WHERE r.type = 'Patient' AND r.id = ? AND r.deleted = 0 UNION ALL "
            "SELECT * FROM (SELECT r.type, r.id, <JSON:r> FROM idx_ref x JOIN resources r ON r.rid = x.rid "
            "WHERE x.p = 'Observation.subject' AND x.tid = ? AND x.ttype = 'Patient' AND r.deleted = 0 "
            "ORDER BY r.rid LIMIT 1000) inc",
            (patient, patient))))

    # 6. chained: observations of patients with a family name
    fam = normalize(k.family)
    out.append(Case(
        "6", "chained subject:Patient.family", "Observation",
        (("subject:Patient.family", k.family),),
        FloorSql(_page("Observation", "x.rid AS rid FROM idx_string s JOIN resources pt ON pt.rid = "
                       "s.rid JOIN idx_ref x ON x.tid = pt.id AND x.ttype = 'Patient' WHERE s.p = "
                       "'Patient.family' AND s.norm >= ? AND s.norm < ? AND x.p = 'Observation.subject'"),
                 (fam, fam + _TOP))))

    # 7. reverse chain: patients with an observation of the lab code
    out.append(Case(
        "7", "_has:Observation:patient:code", "Patient",
        (("_has:Observation:patient:code", f"{k.lab_system}|{k.lab_code}"),),
        FloorSql(f"SELECT {_COLS} FROM resources r WHERE r.type = 'Patient' AND r.deleted = 0 AND r.id IN "
                 "(SELECT x.tid FROM idx_token t JOIN idx_ref x ON x.rid = t.rid WHERE t.p = 'Observation.code' "
                 "AND t.code = ? AND t.system = ? AND x.p = 'Observation.patient' AND x.ttype = 'Patient') "
                 f"ORDER BY r.rid LIMIT {PAGE}",
                 (k.lab_code, k.lab_system))))

    # 8. how many observations there are
    out.append(Case(
        "8", "Observation?_summary=count (whole type)", "Observation", (("_summary", "count"),),
        FloorSql("SELECT COUNT(*) FROM resources r WHERE r.type = 'Observation' AND r.deleted = 0", ()),
        exempt=True, note="accurate count: exempt from the target"))

    # 9. the 11th page of all observations, newest first
    out.append(Case(
        "9", "_sort=-date, 11th page (10 next links)", "Observation", (("_sort", "-date"), ("_count", str(PAGE))),
        FloorSql(f"SELECT {_COLS} FROM idx_date d JOIN resources r ON r.rid = d.rid WHERE d.p = "
                 "'Observation.date' AND r.type = 'Observation' AND r.deleted = 0 "
                 f"ORDER BY d.hi DESC, r.rid LIMIT {PAGE} OFFSET {10 * PAGE}", ()),
        follow=10, note="floor assumes one date per Observation (true of the data)"))

    # 10. a patient by NHS number
    out.append(Case(
        "10", "Patient by NHS number identifier", "Patient", (("identifier", f"{NHS_NUMBER}|{k.nhs_number}"),),
        FloorSql(_page("Patient", "t.rid AS rid FROM idx_token t WHERE t.p = 'Patient.identifier' AND "
                       "t.code = ? AND t.system = ?"), (k.nhs_number, NHS_NUMBER))))

    # 11. a patient's encounters since a date
    since = _date_exists("x.rid", "Encounter.date", _ge(k.encounter_from))
    out.append(Case(
        "11", "patient's encounters since a date", "Encounter",
        (("patient", patient), ("date", f"ge{k.encounter_from}")),
        FloorSql(_page("Encounter", "x.rid AS rid FROM idx_ref x WHERE x.p = 'Encounter.patient' AND "
                       f"x.tid = ? AND x.ttype = 'Patient' AND {since[0]}"),
                 (patient, *since[1]))))

    # 12. a patient's active prescriptions
    out.append(Case(
        "12", "patient's active MedicationRequests", "MedicationRequest",
        (("patient", patient), ("status", "active")),
        FloorSql(_page("MedicationRequest", "x.rid AS rid FROM idx_ref x WHERE x.p = "
                       "'MedicationRequest.patient' AND x.tid = ? AND x.ttype = 'Patient' AND EXISTS (SELECT 1 FROM "
                       "idx_token t <BY:idx_token_rid> WHERE t.rid = x.rid AND t.p = 'MedicationRequest.status' "
                       "AND t.code = 'active')"),
                 (patient,))))

    # 13. vital signs in the patient's compartment (GET Patient/[id]/Observation?category=vital-signs)
    out.append(Case(
        "13", "compartment Patient/:id/Observation?category=vital-signs", "Observation",
        (("category", "vital-signs"),),
        FloorSql(_page("Observation", "x.rid AS rid FROM idx_ref x WHERE x.p IN ('Observation.subject', "
                       "'Observation.performer') AND x.tid = ? AND x.ttype = 'Patient' AND EXISTS (SELECT 1 FROM "
                       "idx_token t <BY:idx_token_rid> WHERE t.rid = x.rid AND t.p = 'Observation.category' "
                       "AND t.code = 'vital-signs')"), (patient,)),
        compartment=("Patient", patient, ("subject", "performer"))))

    # 14. observations with a value over 100 in a UCUM unit (compared in canonical units, as caregate does)
    converted = canonical(k.unit)
    if converted is not None:
        cunit, factor = converted
        qcond = "q.p = ? AND q.value > ? AND q.code = ?"
        qargs: tuple = (f"Observation.value-quantity{CANONICAL}", 100.5 * factor, cunit)
    else:
        qcond, qargs = "q.p = ? AND q.value > ? AND q.system = ? AND (q.code = ? OR q.unit = ?)", \
            ("Observation.value-quantity", 100.5, UCUM, k.unit, k.unit)
    out.append(Case(
        "14", "value-quantity=gt100 in a UCUM unit", "Observation",
        (("value-quantity", f"gt100|{UCUM}|{k.unit}"),),
        FloorSql(_page("Observation", f"q.rid AS rid FROM idx_quantity q WHERE {qcond}"), qargs)))

    # 15. active conditions since 2020, and the same population found by full text
    onset = _date_exists("t.rid", "Condition.onset-date", _ge("2020"))
    out.append(Case(
        "15", "Condition clinical-status=active & onset-date=ge2020", "Condition",
        (("clinical-status", "active"), ("onset-date", "ge2020")),
        FloorSql(_page("Condition", "t.rid AS rid FROM idx_token t WHERE t.p = 'Condition.clinical-status' "
                       f"AND t.code = 'active' AND {onset[0]}"), tuple(onset[1]))))
    out.append(Case(
        "15t", f"Condition?_content={k.condition_word} (full text)", "Condition",
        (("_content", k.condition_word),),
        FloorSql(_page("Condition", "rid FROM idx_text WHERE <FTS> AND k IN (0, 1)"),
                 (f'"{k.condition_word}"',))))
    return out
