"""Staff searches: the price of the legitimate-relationship condition, beside the same searches unconditioned.

    python -m bench.staff_search                          # 100 MB of synthetic NDJSON (~100k resources), both engines
    python -m bench.staff_search --quick                  # 10 MB, 20 runs: checks the benchmark works
    python -m bench.staff_search --mb 30 --engines postgresql --runs 100

The data set (`bench.data.ndjson`, cached) is loaded with the bulk loader, as `caregate load` does (planner
statistics refreshed at the end), into a new SQLite file and into a throwaway PostgreSQL cluster
(`bench.procs.postgres`). A member of staff is then given relationships with three patients, one of each
common kind: a GP registration (Patient.generalPractitioner), an active CareTeam and an open Encounter at
their organisation, which is the organisation with the most encounters in the data (all of them finished) that
is nobody's GP practice, so the open-encounter condition has a long history to look past.

Each search goes through `caregate.interactions.search` in process, as a request does once the web layer has
parsed it: the access policy (the built-in one) adds its conditions, the store answers. The clinician (role
R8000, `user/*.rs`) gets the relationship condition and the Consent condition; beside them, in the same run and
alternating search by search, a backend client with `system/*.rs`, which gets neither: the ratio of the two is
the price of the staff conditions. Figures are printed and saved to `bench/out/staff_search.txt`, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # for tests.pgcluster, whatever the working directory
    sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402
from bench.procs import postgres  # noqa: E402

OUT = ROOT / "bench" / "out"
WARMUPS = 3
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
CLINICIAN = "bench-clinician"


@dataclass(slots=True)
class Picks:
    """What the searches ask about, read from the NDJSON file before loading."""

    org: str = ""  # the clinician's organisation: its ODS code, else its id
    org_ref: str = ""
    related: list[str] = field(default_factory=list)  # [registered, care team, open encounter]
    unrelated: str = ""
    family: str = ""  # the registered patient's family name
    code: str = ""  # the commonest Observation code, system|code


def pick(path: Path) -> Picks:
    providers: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    per_patient: Counter[str] = Counter()
    patients: dict[str, dict] = {}
    orgs: dict[str, dict] = {}
    practices: set[str] = set()
    with open(path, "rb") as f:
        for line in f:
            r = orjson.loads(line)
            rtype = r.get("resourceType")
            if rtype == "Encounter":
                providers[(r.get("serviceProvider") or {}).get("reference", "")] += 1
            elif rtype == "Observation":
                for c in (r.get("code") or {}).get("coding", [])[:1]:
                    codes[f"{c.get('system')}|{c.get('code')}"] += 1
                per_patient[(r.get("subject") or {}).get("reference", "")] += 1
            elif rtype == "Patient":
                patients[r["id"]] = r
                practices.update(g.get("reference", "") for g in r.get("generalPractitioner", []))
            elif rtype == "Organization":
                orgs[r["id"]] = r
    picks = Picks()
    # not a GP practice: registration there would relate the clinician to every patient registered with it
    picks.org_ref = next(ref for ref, _ in providers.most_common()
                         if ref.startswith("Organization/") and ref not in practices)
    org = orgs.get(picks.org_ref.partition("/")[2], {})
    ods = [i.get("value") for i in org.get("identifier", []) if i.get("system") == ODS]
    picks.org = ods[0] if ods else picks.org_ref.partition("/")[2]
    busiest = [ref.partition("/")[2] for ref, _ in per_patient.most_common() if ref.partition("/")[2] in patients]
    middle = len(busiest) // 2  # typical records, not the longest
    picks.related, picks.unrelated = busiest[middle:middle + 3], busiest[middle + 3]
    names = patients[picks.related[0]].get("name") or [{}]
    picks.family = names[0].get("family", "")
    picks.code = codes.most_common(1)[0][0]
    return picks


def relationships(picks: Picks, registered: dict) -> list[Any]:
    """Writes giving the clinician one relationship of each common kind with the three related patients."""
    from caregate.storage.base import Write

    me = {"reference": f"Practitioner/{CLINICIAN}"}
    registered = {**registered, "generalPractitioner": [*registered.get("generalPractitioner", []), me]}
    team = {"resourceType": "CareTeam", "id": "bench-team", "status": "active",
            "subject": {"reference": f"Patient/{picks.related[1]}"}, "participant": [{"member": me}]}
    visit = {"resourceType": "Encounter", "id": "bench-visit", "status": "in-progress",
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
             "subject": {"reference": f"Patient/{picks.related[2]}"}, "serviceProvider": {"reference": picks.org_ref}}
    clinician = {"resourceType": "Practitioner", "id": CLINICIAN, "name": [{"family": "Bench"}]}
    return [Write("update", r["resourceType"], r["id"], r) for r in (clinician, registered, team, visit)]


def cases(picks: Picks) -> list[tuple[str, str, list[tuple[str, str]]]]:
    a, _, _ = picks.related
    return [
        ("Observation?patient=<related>", "Observation", [("patient", a)]),
        ("Observation?patient=<unrelated>", "Observation", [("patient", picks.unrelated)]),
        ("Observation?code=<commonest>", "Observation", [("code", picks.code)]),
        ("Patient?name=<family>", "Patient", [("name", picks.family)]),
        ("Encounter?patient=<related>&_sort=-date", "Encounter", [("patient", a), ("_sort", "-date")]),
    ]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(slots=True)
class Row:
    engine: str
    case: str
    staff: list[float] = field(default_factory=list)
    system: list[float] = field(default_factory=list)
    staff_total: int | None = None
    system_total: int | None = None


async def measure(engine: str, store: Any, picks: Picks, runs: int) -> list[Row]:
    from caregate.interactions.context import RequestContext
    from caregate.interactions.search import search
    from caregate.policy import Actor
    from caregate.policy.rules import load_policy
    from caregate.search.registry import default_registry

    registry, policy = default_registry(), load_policy(None)
    staff = Actor.from_scope_string(CLINICIAN, "bench", "user/*.rs", fhir_user=f"Practitioner/{CLINICIAN}",
                                    roles=("R8000",), org=picks.org)
    backend = Actor.from_scope_string("bench-backend", "bench", "system/*.rs")

    def ctx(actor: Any) -> Any:
        return RequestContext(store, registry, "http://bench/fhir", actor=actor, policy=policy)

    rows = []
    for title, rtype, params in cases(picks):
        row = Row(engine, title)
        for i in range(WARMUPS + runs):
            t0 = time.perf_counter()
            mine = await search(ctx(staff), rtype, list(params))
            t1 = time.perf_counter()
            everyone = await search(ctx(backend), rtype, list(params))
            t2 = time.perf_counter()
            if i >= WARMUPS:
                row.staff.append((t1 - t0) * 1000)
                row.system.append((t2 - t1) * 1000)
            row.staff_total, row.system_total = (mine.body or {}).get("total"), (everyone.body or {}).get("total")
        rows.append(row)
    return rows


async def run_engine(engine: str, path: Path, picks: Picks, runs: int, workdir: Path) -> tuple[list[Row], str]:
    from caregate.bulkload import aload_files

    async def on(store: Any) -> tuple[list[Row], str]:
        started = time.perf_counter()
        summary = await aload_files(store, [path])
        loaded = time.perf_counter() - started
        registered = orjson.loads((await store.read("Patient", picks.related[0])).json)
        await store.transact(relationships(picks, registered))
        note = f"{engine}: {summary.loaded:,} resources loaded in {loaded:.0f} s (statistics refreshed)"
        try:
            return await measure(engine, store, picks, runs), note
        finally:
            await store.close()

    if engine == "sqlite":
        from caregate.storage.sqlite import SqliteStore

        return await on(SqliteStore(str(workdir / "staff.db")))
    from caregate.storage.postgres import PostgresStore

    with postgres() as cluster:
        return await on(PostgresStore(cluster.create_database("staff"), max_size=2))  # type: ignore[attr-defined]


def render(rows: list[Row], notes: list[str], header: str) -> str:
    lines = [header, *notes, "",
             f"{'engine':<11}{'search':<42}{'staff p50':>10}{'p95':>8}{'system p50':>12}{'p95':>8}"
             f"{'p50 ratio':>11}{'  totals staff/system':>22}"]
    for r in rows:
        s50, s95, b50, b95 = pct(r.staff, .5), pct(r.staff, .95), pct(r.system, .5), pct(r.system, .95)
        lines.append(f"{r.engine:<11}{r.case:<42}{s50:>10.2f}{s95:>8.2f}{b50:>12.2f}{b95:>8.2f}"
                     f"{s50 / b50:>10.2f}x{r.staff_total!s:>12}/{r.system_total!s}")
    lines.append("")
    lines.append("ms per search through interactions.search in process; staff = a clinician (R8000, user/*.rs) bound "
                 "by relationships and Consents; system = a backend client (system/*.rs), alternating with it.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100, help="size of the synthetic NDJSON data set, MB")
    ap.add_argument("--engines", default="sqlite,postgresql")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="10 MB, 20 runs")
    args = ap.parse_args(argv)
    mb, runs = (10, 20) if args.quick else (args.mb, args.runs)
    path, count = data.ndjson(mb)
    picks = pick(path)
    header = (f"staff searches: {count:,} synthetic resources ({mb} MB NDJSON, seed {data.SEED}), {runs} runs after "
              f"{WARMUPS} warm-ups; clinician related to 3 patients (GP registration, care team, open encounter at "
              f"the busiest organisation that is not a GP practice)")
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="staff-search-") as tmp:
        for engine in args.engines.split(","):
            print(f"  {engine}: loading {path.name}", file=sys.stderr, flush=True)
            got, note = asyncio.run(run_engine(engine, path, picks, runs, Path(tmp)))
            rows += got
            notes.append(note)
    text = render(rows, notes, header)
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "staff_search.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
