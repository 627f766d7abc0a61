"""Load a SNOMED CT RF2 release's Snapshot files into the database (`caregate terminology load-snomed DIR`).

RF2 (SNOMED CT Release File Specifications) files are UTF-8, tab-separated, with a header row. From the
Snapshot folder this reads:

- `sct2_Concept_Snapshot*.txt`: id, effectiveTime, active, moduleId, definitionStatusId;
- `sct2_Description_Snapshot*.txt`: id, effectiveTime, active, moduleId, conceptId, languageCode, typeId,
  term, caseSignificanceId;
- `sct2_Relationship_Snapshot*.txt`: id, effectiveTime, active, moduleId, sourceId, destinationId,
  relationshipGroup, typeId, characteristicTypeId, modifierId;
- and, when present, `der2_cRefset_Language*Snapshot*.txt`, whose `preferred` rows choose the term shown.

Only active rows count, only `116680003 |Is a|` relationships between active concepts make the hierarchy.
The term shown for a concept is its preferred synonym when a language reference set says which, otherwise
its fully specified name without the semantic tag. Everything is written in one transaction (the previous
release is replaced, or nothing changes), in batches, and the is-a transitive closure is built in the
database by a recursive query.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from caregate.storage.snomed import DDL, INDEXES, connect, engine, words

__all__ = ["IS_A", "Rf2Error", "load_release", "release_files"]

IS_A = "116680003"
FSN = "900000000000003001"
SYNONYM = "900000000000013009"
PREFERRED = "900000000000548007"
BATCH = 5000

Progress = Callable[[str, int, int], None]  # stage, amount just done, stage total (bytes)

_HEADERS = {
    "concept": ["id", "effectiveTime", "active", "moduleId", "definitionStatusId"],
    "description": ["id", "effectiveTime", "active", "moduleId", "conceptId", "languageCode", "typeId", "term",
                    "caseSignificanceId"],
    "relationship": ["id", "effectiveTime", "active", "moduleId", "sourceId", "destinationId", "relationshipGroup",
                     "typeId", "characteristicTypeId", "modifierId"],
    "language": ["id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId",
                 "acceptabilityId"],
}
_PATTERNS = {"concept": "sct2_Concept_Snapshot*.txt", "description": "sct2_Description_Snapshot*.txt",
             "relationship": "sct2_Relationship_Snapshot*.txt", "language": "der2_cRefset_Language*Snapshot*.txt"}
_TAG = re.compile(r"\s*\([^()]*\)\s*$")


class Rf2Error(ValueError):
    """The folder is not an RF2 release this loader can read; the message says what is missing or wrong."""


def release_files(folder: Path) -> dict[str, list[Path]]:
    """The Snapshot files of each kind under `folder` (searched recursively); concept, description and
    relationship files are required."""
    if not folder.is_dir():
        raise Rf2Error(f"{folder} is not a folder")
    found = {kind: sorted(folder.rglob(pattern)) for kind, pattern in _PATTERNS.items()}
    for kind in ("concept", "description", "relationship"):
        if not found[kind]:
            raise Rf2Error(f"no {_PATTERNS[kind]} under {folder}: is it an RF2 release with Snapshot files?")
    return found


def _rows(path: Path, kind: str, progress: Progress | None) -> Iterator[list[str]]:
    with path.open("r", encoding="utf-8", newline="") as handle:
        header = handle.readline()
        if header.rstrip("\r\n").split("\t") != _HEADERS[kind]:
            raise Rf2Error(f"{path.name}: the header is not that of an RF2 {kind} file")
        done = len(header)
        for n, line in enumerate(handle, start=2):
            done += len(line)
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != len(_HEADERS[kind]):
                raise Rf2Error(f"{path.name} line {n}: {len(fields)} columns, not {len(_HEADERS[kind])}")
            yield fields
            if progress is not None and n % 20000 == 0:
                progress(kind, done, 0)
                done = 0
        if progress is not None:
            progress(kind, done, 0)


class _Writer:
    """Batched inserts that ignore rows already there, with the engine's placeholders."""

    def __init__(self, conn: Any, postgres: bool) -> None:
        self.conn, self.postgres = conn, postgres

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    def execute(self, text: str, args: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(self.sql(text), args)

    def insert(self, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        marks = ", ".join("?" for _ in rows[0])
        text = self.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING")
        cur = self.conn.cursor()
        cur.executemany(text, rows)
        rows.clear()


def load_release(database_url: str, folder: Path, progress: Progress | None = None) -> dict[str, int | str]:
    """Replace the SNOMED CT content of the database with the release in `folder`; the counts loaded."""
    files = release_files(folder)
    if progress is not None:
        for kind, paths in files.items():
            progress(kind, 0, sum(p.stat().st_size for p in paths))
    postgres = engine(database_url) == "postgresql"
    conn = connect(database_url, autocommit=not postgres)  # SQLite: the transaction is begun explicitly below
    w = _Writer(conn, postgres)
    try:
        for statement in (*DDL["postgresql" if postgres else "sqlite"], *INDEXES):
            w.execute(statement)
        if not postgres:
            w.execute("BEGIN IMMEDIATE")
        for table in ("snomed_release", "snomed_concept", "snomed_isa", "snomed_closure", "snomed_word"):
            w.execute(f"DELETE FROM {table}")
        counts = _fill(w, files, progress)
        if progress is not None:
            progress("closure", 0, 1)
        w.execute("WITH RECURSIVE up (descendant, ancestor) AS (SELECT child, parent FROM snomed_isa UNION "
                  "SELECT up.descendant, i.parent FROM up JOIN snomed_isa i ON i.child = up.ancestor) "
                  "INSERT INTO snomed_closure (ancestor, descendant) SELECT ancestor, descendant FROM up")
        counts["closure"] = int(w.execute("SELECT count(*) FROM snomed_closure").fetchone()[0])
        if progress is not None:
            progress("closure", 1, 0)
        stamp = f"{counts['version']} ({counts['concepts']} concepts), loaded {time.time():.6f}"
        release = [(k, str(v)) for k, v in counts.items()] + [("loaded", stamp)]
        w.insert("snomed_release", "name, value", release)
        if postgres:
            conn.commit()
        else:
            w.execute("COMMIT")
        if postgres:
            conn.autocommit = True  # VACUUM runs outside a transaction
        for table in ("snomed_concept", "snomed_isa", "snomed_closure", "snomed_word"):
            # fresh statistics, so the planner drives filters from the right index; on PostgreSQL also the
            # visibility map, so closure and word lookups stay index-only
            w.execute(f"VACUUM (ANALYZE) {table}" if postgres else f"ANALYZE {table}")
    except BaseException:
        if postgres:
            conn.rollback()
        elif conn.in_transaction:
            w.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return counts


def _fill(w: _Writer, files: dict[str, list[Path]], progress: Progress | None) -> dict[str, Any]:
    active: set[int] = set()
    modules: Counter[str] = Counter()
    latest = ""
    for path in files["concept"]:
        for cid, effective, is_active, module, _ in _rows(path, "concept", progress):
            if is_active == "1":
                active.add(int(cid))
                modules[module] += 1
                latest = max(latest, effective)
    preferred: set[str] = set()
    for path in files["language"]:
        for _, _, is_active, _, _, description, acceptability in _rows(path, "language", progress):
            if is_active == "1" and acceptability == PREFERRED:
                preferred.add(description)
    fsn: dict[int, str] = {}
    shown: dict[int, str] = {}
    batch: list[tuple[Any, ...]] = []
    descriptions = 0
    for path in files["description"]:
        for did, _, is_active, _, concept, _, type_id, term, _ in _rows(path, "description", progress):
            cid = int(concept)
            if is_active != "1" or cid not in active:
                continue
            descriptions += 1
            if type_id == FSN:
                fsn.setdefault(cid, term)
            elif type_id == SYNONYM and did in preferred:
                shown.setdefault(cid, term)
            for word in set(words(term)):
                batch.append((word, cid))
            if len(batch) >= BATCH:
                w.insert("snomed_word", "word, concept", batch)
    for cid in active:
        batch.append((str(cid), cid))
        if len(batch) >= BATCH:
            w.insert("snomed_word", "word, concept", batch)
    w.insert("snomed_word", "word, concept", batch)
    for cid in sorted(active):
        batch.append((cid, shown.get(cid) or _TAG.sub("", fsn.get(cid, "")) or str(cid)))
        if len(batch) >= BATCH:
            w.insert("snomed_concept", "id, display", batch)
    w.insert("snomed_concept", "id, display", batch)
    isa = 0
    for path in files["relationship"]:
        for _, _, is_active, _, source, destination, _, type_id, _, _ in _rows(path, "relationship", progress):
            if is_active == "1" and type_id == IS_A and int(source) in active and int(destination) in active:
                batch.append((int(source), int(destination)))
                isa += 1
                if len(batch) >= BATCH:
                    w.insert("snomed_isa", "child, parent", batch)
    w.insert("snomed_isa", "child, parent", batch)
    module = modules.most_common(1)[0][0] if modules else "900000000000207008"
    return {"version": f"http://snomed.info/sct/{module}/version/{latest}", "concepts": len(active),
            "descriptions": descriptions, "isa": isa}
