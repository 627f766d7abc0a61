"""CRUD mix: 16 concurrent clients, each creating nine linked resources, reading, updating and deleting them.

This is the write-heavy traffic of a clinical system (a visit: patient, place, organisation, clinician,
encounter, observation, prescription, claim and its adjudication), on the embedded SQLite store where every
write is serialised through one connection. Each client runs whole cycles of 36 requests, one at a time, until
the time is up; all requests count, and any answer other than the one FHIR specifies counts as an error.

The clients are Python (asyncio, with the lean HTTP/1.1 client of `bench.http`) on the same cores as the
server, so the client's own CPU use is reported beside the server's: when the server is not near one full core,
the figure is the client's limit, not caregate's.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from bench.http import Connection, Response
from bench.procs import CaregateServer, cpu_seconds
from bench.report import Row, Target
from caregate.fhir.nhs_number import check_digit

CLIENTS = 16
RPS_TARGET = 1_500.0
WARM_UP_S = 1.5
REQUEST_TIMEOUT_S = 30.0  # a stuck request is an error, and the run still ends on time
_JSON = "application/fhir+json"

Resource = dict[str, Any]


def _ref(type_: str, id_: str) -> dict[str, str]:
    return {"reference": f"{type_}/{id_}"}


def _concept(system: str, code: str, display: str) -> Resource:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


_NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
_SNOMED = "http://snomed.info/sct"


def _nhs_number(c: int, n: int) -> str:
    """A test-range (999) NHS number with a valid Modulus 11 check digit: the server validates every write."""
    for step in range(11):
        nine = f"999{(c * 7919 + n + step) % 1_000_000:06d}"
        digit = check_digit(nine)
        if digit is not None:
            return nine + str(digit)
    raise AssertionError("unreachable: one in eleven prefixes has no check digit")


def _builders() -> list[tuple[str, Any]]:
    """The nine resources of a visit as (type, builder(client, cycle, ids)), in an order where every reference
    points to a resource created earlier in the same cycle, whose server-assigned id is in `ids`."""

    def organization(c: int, n: int, ids: dict[str, str]) -> Resource:
        return {"resourceType": "Organization", "active": True, "name": f"Bench Practice {c}-{n}",
                "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": f"B{c:02d}{n:03d}"}],
                "type": [_concept("http://terminology.hl7.org/CodeSystem/organization-type", "prov",
                                  "Healthcare Provider")]}

    def location(c: int, n: int, ids: dict[str, str]) -> Resource:
        return {"resourceType": "Location", "status": "active", "name": f"Consulting room {n}",
                "managingOrganization": _ref("Organization", ids["Organization"]),
                "address": {"line": [f"{n} High Street"], "city": "Leeds", "postalCode": "LS1 4AP", "country": "GB"}}

    def practitioner(c: int, n: int, ids: dict[str, str]) -> Resource:
        return {"resourceType": "Practitioner", "active": True,
                "identifier": [{"system": "https://fhir.hl7.org.uk/Id/gmc-number", "value": f"C{c:02d}{n:05d}"}],
                "name": [{"family": "Okafor", "given": ["Amara"], "prefix": ["Dr"]}]}

    def patient(c: int, n: int, ids: dict[str, str]) -> Resource:
        return {"resourceType": "Patient", "active": True,
                "identifier": [{"system": _NHS_NUMBER, "value": _nhs_number(c, n)}],
                "name": [{"use": "official", "family": "Khan", "given": ["Aisha"]}],
                "gender": "female", "birthDate": "1984-03-12",
                "generalPractitioner": [_ref("Organization", ids["Organization"])]}

    def encounter(c: int, n: int, ids: dict[str, str]) -> Resource:
        return {"resourceType": "Encounter", "status": "finished",
                "class": {"system": _ACT_CODE, "code": "AMB", "display": "ambulatory"},
                "type": [_concept(_SNOMED, "185389009", "Follow-up visit")],
                "subject": _ref("Patient", ids["Patient"]),
                "participant": [{"individual": _ref("Practitioner", ids["Practitioner"])}],
                "location": [{"location": _ref("Location", ids["Location"])}],
                "serviceProvider": _ref("Organization", ids["Organization"]),
                "period": {"start": "2024-05-01T09:00:00+01:00", "end": "2024-05-01T09:15:00+01:00"}}

    def observation(c: int, n: int, ids: dict[str, str]) -> Resource:
        return {"resourceType": "Observation", "status": "final",
                "category": [_concept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs",
                                      "Vital Signs")],
                "code": _concept("http://loinc.org", "8867-4", "Heart rate"),
                "subject": _ref("Patient", ids["Patient"]), "encounter": _ref("Encounter", ids["Encounter"]),
                "performer": [_ref("Practitioner", ids["Practitioner"])],
                "effectiveDateTime": "2024-05-01T09:05:00+01:00",
                "valueQuantity": {"value": 60 + n % 40, "unit": "/min", "system": "http://unitsofmeasure.org",
                                  "code": "/min"}}

    def medication_request(c: int, n: int, ids: dict[str, str]) -> Resource:
        return {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
                "medicationCodeableConcept": _concept(_SNOMED, "325319001", "Metformin 500mg tablets"),
                "subject": _ref("Patient", ids["Patient"]), "encounter": _ref("Encounter", ids["Encounter"]),
                "requester": _ref("Practitioner", ids["Practitioner"]), "authoredOn": "2024-05-01",
                "dosageInstruction": [{"text": "One tablet twice a day"}]}

    def claim(c: int, n: int, ids: dict[str, str]) -> Resource:
        return {"resourceType": "Claim", "status": "active", "use": "claim", "created": "2024-05-01",
                "type": _concept(_CLAIM_TYPE, "professional", "Professional"),
                "patient": _ref("Patient", ids["Patient"]), "provider": _ref("Organization", ids["Organization"]),
                "priority": _concept("http://terminology.hl7.org/CodeSystem/processpriority", "normal", "Normal"),
                "careTeam": [{"sequence": 1, "provider": _ref("Practitioner", ids["Practitioner"])}],
                "prescription": _ref("MedicationRequest", ids["MedicationRequest"]),
                "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "NHS England"}}],
                "item": [{"sequence": 1, "productOrService": _concept(_SNOMED, "185389009", "Follow-up visit"),
                          "encounter": [_ref("Encounter", ids["Encounter"])],
                          "net": {"value": 35.0, "currency": "GBP"}}]}

    def explanation_of_benefit(c: int, n: int, ids: dict[str, str]) -> Resource:
        return {"resourceType": "ExplanationOfBenefit", "status": "active", "use": "claim", "outcome": "complete",
                "created": "2024-05-02", "type": _concept(_CLAIM_TYPE, "professional", "Professional"),
                "patient": _ref("Patient", ids["Patient"]), "insurer": _ref("Organization", ids["Organization"]),
                "provider": _ref("Organization", ids["Organization"]), "claim": _ref("Claim", ids["Claim"]),
                "insurance": [{"focal": True, "coverage": {"display": "NHS England"}}],
                "item": [{"sequence": 1, "productOrService": _concept(_SNOMED, "185389009", "Follow-up visit"),
                          "adjudication": [{"category": _concept(
                              "http://terminology.hl7.org/CodeSystem/adjudication", "benefit", "Benefit Amount"),
                              "amount": {"value": 35.0, "currency": "GBP"}}]}]}

    return [("Organization", organization), ("Location", location), ("Practitioner", practitioner),
            ("Patient", patient), ("Encounter", encounter), ("Observation", observation),
            ("MedicationRequest", medication_request), ("Claim", claim),
            ("ExplanationOfBenefit", explanation_of_benefit)]


BUILDERS = _builders()


@dataclass(slots=True)
class Tally:
    """Latencies (seconds) by operation, and the answers that were not what FHIR specifies."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in
                                                                      ("create", "read", "update", "delete")})
    errors: int = 0
    first_error: str = ""

    def fail(self, what: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = what[:160]

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())


async def _call(conn: Connection, tally: Tally, op: str, method: str, path: str, expect: tuple[int, ...],
                body: Resource | None = None, headers: dict[str, str] | None = None) -> Response:
    content = orjson.dumps(body) if body is not None else None
    start = time.perf_counter()
    try:
        response = await asyncio.wait_for(conn.request(method, path, content, headers), REQUEST_TIMEOUT_S)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
        await conn.close()  # the next request reconnects
        response = Response(0, {}, f"{type(exc).__name__}: {exc}".encode())
    tally.latencies[op].append(time.perf_counter() - start)
    if response.status not in expect:
        tally.fail(f"{method} {path} -> {response.status} {response.body[:100]!r}")
    return response


async def _cycle(conn: Connection, prefix: str, number: int, cycle: int, tally: Tally) -> None:
    ids: dict[str, str] = {}
    bodies: dict[str, Resource] = {}
    for type_, build in BUILDERS:
        resource = build(number, cycle, ids)
        response = await _call(conn, tally, "create", "POST", f"{prefix}/{type_}", (201,), resource)
        created = orjson.loads(response.body) if response.status == 201 else {}
        if "id" not in created:
            return  # an error was counted; the rest of the visit cannot refer to it
        ids[type_], bodies[type_] = created["id"], created
    for type_, _ in BUILDERS:
        await _call(conn, tally, "read", "GET", f"{prefix}/{type_}/{ids[type_]}", (200,))
    for type_, _ in BUILDERS:
        body = bodies[type_]
        body["meta"] = {"tag": [{"system": "urn:caregate:bench", "code": "updated"}]}
        await _call(conn, tally, "update", "PUT", f"{prefix}/{type_}/{ids[type_]}", (200,), body,
                    {"If-Match": 'W/"1"'})
    for type_, _ in reversed(BUILDERS):
        await _call(conn, tally, "delete", "DELETE", f"{prefix}/{type_}/{ids[type_]}", (200, 204))


async def _client(base: str, number: int, deadline: float, tally: Tally) -> None:
    url = urlsplit(base)
    conn = Connection(url.hostname or "127.0.0.1", url.port or 80, {"Content-Type": _JSON, "Accept": _JSON})
    try:
        cycle = 0
        while time.perf_counter() < deadline:
            await _cycle(conn, url.path.rstrip("/"), number, cycle, tally)
            cycle += 1
    finally:
        await conn.close()


async def _drive(base: str, seconds: float) -> tuple[Tally, float]:
    tally = Tally()
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_client(base, n, deadline, tally) for n in range(CLIENTS)))
    return tally, time.perf_counter() - start


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(seconds: float, scratch: Path) -> list[Row]:
    url = f"sqlite:///{scratch / 'crud.db'}"
    with CaregateServer(url, scratch / "crud-server.log") as server:
        asyncio.run(_drive(server.base, WARM_UP_S))
        server_cpu, own_cpu = cpu_seconds(server.pid), time.process_time()
        tally, elapsed = asyncio.run(_drive(server.base, seconds))
        server_busy = (cpu_seconds(server.pid) - server_cpu) / elapsed
        client_busy = (time.process_time() - own_cpu) / elapsed
    everything = [x for v in tally.latencies.values() for x in v]
    p95 = _percentile(everything, 0.95)
    by_op = ", ".join(f"{op} {1000 * (_percentile(v, 0.95) or 0):.1f}" for op, v in tally.latencies.items())
    errors = f"; {tally.errors} errors, first: {tally.first_error}" if tally.errors else ""
    measure = f"{CLIENTS} clients x (create, read, update, delete) x 9 linked types, {elapsed:.0f} s, SQLite"
    return [
        Row("crud", measure, tally.requests / elapsed, "requests/s", targets=(Target(">=", RPS_TARGET),),
            note=f"{tally.requests:,} requests; server CPU {server_busy:.0%} of a core, client {client_busy:.0%}"
                 f"{errors}"),
        Row("crud", "p95 latency, all requests", None if p95 is None else p95 * 1000, "ms",
            note=f"p95 by operation (ms): {by_op}"),
    ]
