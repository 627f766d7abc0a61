"""`python -m bench`: run the benchmarks and print one table of figures, baselines, ratios and targets.

    python -m bench                       # the normal run (a few minutes)
    python -m bench --quick               # small sizes: a smoke run that checks every benchmark still works
    python -m bench --only read,crud      # some of: index, ingest, read, crud, memory, fhirpath, validate, auth
    python -m bench --load-mb 1000        # the 1 GB load for the memory benchmark (generated once, then cached)

The table also goes to bench/out/latest.txt. Each benchmark that cannot run (PostgreSQL or wrk missing, a
failure) gets a row saying why, and the others still run: one broken part should not hide the rest.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # for tests.pgcluster, whatever the working directory
    sys.path.insert(0, str(ROOT))

from bench.report import Row, render_text, table  # noqa: E402

SECTIONS = ("index", "ingest", "read", "crud", "memory", "fhirpath", "validate", "auth", "subscriptions", "audit",
            "terminology")
OUT = ROOT / "bench" / "out"
WIDTH = 220  # columns of the saved table: every figure and note on as few lines as possible


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much each benchmark does: `--quick` shrinks everything to check the benchmarks, not the product."""

    index_resources: int
    ingest_patients: int
    read_patients: int
    seconds: float
    load_mb: int
    fhirpath_patients: int = 20


NORMAL = Sizes(index_resources=5000, ingest_patients=100, read_patients=100, seconds=10, load_mb=100)
QUICK = Sizes(index_resources=1000, ingest_patients=10, read_patients=10, seconds=3, load_mb=5, fhirpath_patients=2)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a fast smoke run")
    parser.add_argument("--only", default=",".join(SECTIONS), metavar="LIST",
                        help=f"comma-separated benchmarks to run (default: all of {','.join(SECTIONS)})")
    parser.add_argument("--load-mb", type=int, default=None, metavar="MB",
                        help="size of the NDJSON file `caregate load` reads in the memory benchmark "
                             f"(default {NORMAL.load_mb}, {QUICK.load_mb} with --quick)")
    parser.add_argument("--patients", type=int, default=None, help="synthetic patients for the ingest benchmark")
    parser.add_argument("--seconds", type=float, default=None, help="duration of each read and CRUD measurement")
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.only if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    return args


def _sizes(args: argparse.Namespace) -> Sizes:
    base = QUICK if args.quick else NORMAL
    return Sizes(
        index_resources=base.index_resources,
        ingest_patients=args.patients or base.ingest_patients,
        read_patients=base.read_patients,
        seconds=args.seconds or base.seconds,
        load_mb=args.load_mb or base.load_mb,
        fhirpath_patients=base.fhirpath_patients,
    )


def _plan(sizes: Sizes, scratch: Path) -> dict[str, Callable[[], list[Row]]]:
    """Each benchmark as a call, imported only when it runs so one that cannot import does not stop the others."""

    def index() -> list[Row]:
        from bench import index

        return index.run(sizes.index_resources)

    def ingest() -> list[Row]:
        from bench import ingest

        return ingest.run(sizes.ingest_patients, scratch)

    def read() -> list[Row]:
        from bench import read

        return read.run(sizes.read_patients, sizes.seconds, scratch)

    def crud() -> list[Row]:
        from bench import crud

        return crud.run(sizes.seconds, scratch)

    def memory() -> list[Row]:
        from bench import memory

        return memory.run(sizes.load_mb, scratch)

    def fhirpath() -> list[Row]:
        from bench import fhirpath

        return fhirpath.run(sizes.fhirpath_patients)

    def validate() -> list[Row]:
        from bench import validate

        return validate.run(sizes.fhirpath_patients // 2)

    def auth() -> list[Row]:
        from bench import auth

        return auth.run(500 if sizes.read_patients < NORMAL.read_patients else 4000)

    def audit() -> list[Row]:
        from bench import audit

        quick = sizes.read_patients < NORMAL.read_patients
        return audit.run(500 if quick else 2000, 1.5 if quick else 6.0)

    def subscriptions() -> list[Row]:
        from bench import subscriptions

        quick = sizes.read_patients < NORMAL.read_patients
        return subscriptions.run((100,) if quick else (100, 1000), 100.0 if quick else 500.0,
                                 min(sizes.seconds, 10.0), scratch, throughput_s=1.0 if quick else 3.0)

    def terminology() -> list[Row]:
        from bench import terminology

        return terminology.run(10_000 if sizes.read_patients < NORMAL.read_patients else 100_000, scratch)

    return {"index": index, "ingest": ingest, "read": read, "crud": crud, "memory": memory, "fhirpath": fhirpath,
            "validate": validate, "auth": auth, "subscriptions": subscriptions, "audit": audit,
            "terminology": terminology}


def _commit() -> str:
    """The commit measured, so saved tables can be told apart (read-only: `git rev-parse`)."""
    try:
        found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                               text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() or "unknown"


def _title(quick: bool) -> str:
    mode = "quick (smoke sizes)" if quick else "normal"
    return (f"caregate benchmarks at {_commit()}, {time.strftime('%Y-%m-%d %H:%M')}, {mode}: "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    sizes = _sizes(args)
    err = Console(stderr=True)
    scratch = Path(tempfile.mkdtemp(prefix="caregate-bench-"))
    scratch.chmod(0o755)  # nginx's workers (user nobody) read the static files from here
    rows: list[Row] = []
    plan = _plan(sizes, scratch)
    try:
        for name in SECTIONS:
            if name not in args.only:
                continue
            err.print(f"[bold]{name}[/bold] ...", highlight=False)
            started = time.perf_counter()
            try:
                rows += plan[name]()
            except Exception as exc:  # report and go on: see the module docstring
                traceback.print_exc()
                rows.append(Row(name, "(benchmark failed)", None, "", note=f"{type(exc).__name__}: {exc}"[:200]))
            err.print(f"  done in {time.perf_counter() - started:.0f} s", style="dim", highlight=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows.sort(key=lambda r: SECTIONS.index(r.section) if r.section in SECTIONS else len(SECTIONS))
    title = _title(args.quick)
    out = Console()
    if not out.is_terminal:  # piped or redirected: as wide as the saved copy, not Rich's default of 80 columns
        out = Console(width=WIDTH)
    out.print(table(rows, title))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "latest.txt").write_text(render_text(rows, title, WIDTH))
    err.print(f"saved to {(OUT / 'latest.txt').relative_to(ROOT)}", style="dim")
    return 0


if __name__ == "__main__":
    sys.exit(main())
