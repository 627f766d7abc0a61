"""SNOMED CT content loaded from a user's RF2 release, in the server's own database (SQLite or PostgreSQL).

caregate ships no SNOMED CT: `caregate terminology load-snomed DIR` (snomed_load.py) fills these tables and
`SnomedContent` serves them to the terminology library (`caregate.fhir.terminology.content.provide`) as a
code system shaped like the shipped ones, so `$lookup`, `$validate-code`, `$subsumes`, `$expand`, bindings and
token `:below`/`:above` work on it (https://hl7.org/fhir/R4/snomedct.html).

- `snomed_concept`: active concepts and the term shown for each;
- `snomed_isa`: active `116680003 |Is a|` relationships (child, parent);
- `snomed_closure`: their transitive closure (ancestor, descendant), self excluded, for subsumption and
  `is-a` / `descendent-of` filters in one indexed lookup;
- `snomed_word`: the lower-case words of every active description (and the concept id), for `$expand`'s
  text `filter` as indexed prefix ranges;
- `snomed_release`: what was loaded (version, counts); no rows means no release.

Reads go through one connection per thread, opened on first use.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from caregate.errors import FhirError
from caregate.fhir.terminology.content import bump_generation, provide
from caregate.fhir.terminology.expand import NotExpandable

__all__ = ["SYSTEM", "SnomedContent", "install", "uninstall", "words"]

SYSTEM = "http://snomed.info/sct"
MAX_LISTED = 10_000  # descendants handed out as a list (token :below); SQLite takes at most 32,766 parameters
_RECHECK_SECONDS = 5.0

_COMMON = (
    "CREATE TABLE IF NOT EXISTS snomed_release (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS snomed_concept (id BIGINT PRIMARY KEY, display TEXT NOT NULL)",
)
DDL = {
    "sqlite": (*_COMMON,
               "CREATE TABLE IF NOT EXISTS snomed_isa (child BIGINT NOT NULL, parent BIGINT NOT NULL, "
               "PRIMARY KEY (child, parent)) WITHOUT ROWID",
               "CREATE TABLE IF NOT EXISTS snomed_closure (ancestor BIGINT NOT NULL, descendant BIGINT NOT NULL, "
               "PRIMARY KEY (ancestor, descendant)) WITHOUT ROWID",
               "CREATE TABLE IF NOT EXISTS snomed_word (word TEXT NOT NULL, concept BIGINT NOT NULL, "
               "PRIMARY KEY (word, concept)) WITHOUT ROWID"),
    "postgresql": (*_COMMON,
                   "CREATE TABLE IF NOT EXISTS snomed_isa (child BIGINT NOT NULL, parent BIGINT NOT NULL, "
                   "PRIMARY KEY (child, parent))",
                   "CREATE TABLE IF NOT EXISTS snomed_closure (ancestor BIGINT NOT NULL, descendant BIGINT NOT NULL, "
                   "PRIMARY KEY (ancestor, descendant))",
                   "CREATE TABLE IF NOT EXISTS snomed_word (word TEXT COLLATE \"C\" NOT NULL, concept BIGINT NOT NULL, "
                   "PRIMARY KEY (word, concept))"),
}
INDEXES = ("CREATE INDEX IF NOT EXISTS snomed_isa_parent ON snomed_isa (parent)",
           "CREATE INDEX IF NOT EXISTS snomed_closure_descendant ON snomed_closure (descendant)")

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The searchable words of a term or of a `filter`: runs of letters and digits, lower case."""
    return _WORD.findall(text.lower())


def engine(url: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql"
    if url.startswith("sqlite:///"):
        return "sqlite"
    raise ValueError(f"Unsupported database URL {url!r}: use sqlite:///path or postgresql://...")


def connect(url: str, *, autocommit: bool) -> Any:
    """A new connection to the database the URL names."""
    if engine(url) == "postgresql":
        import psycopg

        return psycopg.connect(url, autocommit=autocommit)
    path = url[len("sqlite:///"):] or ":memory:"
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None if autocommit else "DEFERRED",
                           check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _code(code: object) -> int | None:
    """A SNOMED CT concept id as the integer it is stored as, or None when it cannot be one."""
    if isinstance(code, str) and code.isascii() and code.isdigit() and 6 <= len(code) <= 18 and code[0] != "0":
        return int(code)
    return None


class _Display(Mapping[str, str]):
    """Concept id -> term, read from the database on demand (shaped like `CodeSystem.display`)."""

    def __init__(self, content: SnomedContent) -> None:
        self._content = content

    def __getitem__(self, code: str) -> str:
        key = _code(code)
        row = self._content.one("SELECT display FROM snomed_concept WHERE id = ?", (key,)) if key else None
        if row is None:
            raise KeyError(code)
        return str(row[0])

    def __contains__(self, code: object) -> bool:
        key = _code(code)
        return key is not None and self._content.one("SELECT 1 FROM snomed_concept WHERE id = ?", (key,)) is not None

    def __iter__(self) -> Iterator[str]:
        return (str(r[0]) for r in self._content.all("SELECT id FROM snomed_concept ORDER BY id", ()))

    def __len__(self) -> int:
        return int(self._content.one("SELECT count(*) FROM snomed_concept", ())[0])

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(str(i), d) for i, d in self._content.all("SELECT id, display FROM snomed_concept ORDER BY id", ())]


class _Edges:
    """Concept id -> its direct parents (or children), shaped like `CodeSystem.parents` / `.children`."""

    def __init__(self, content: SnomedContent, sql: str) -> None:
        self._content, self._sql = content, sql

    def get(self, code: str, default: Sequence[str] = ()) -> tuple[str, ...]:
        key = _code(code)
        rows = self._content.all(self._sql, (key,)) if key else []
        return tuple(str(r[0]) for r in rows) if rows else tuple(default)


class SnomedContent:
    """A loaded SNOMED CT release, served like a shipped `CodeSystem` plus set-at-a-time queries."""

    url = SYSTEM
    content = "complete"
    complete = True

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.postgres = engine(database_url) == "postgresql"
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()
        self._checked = 0.0
        self._release: str | None = None
        self.meta: dict[str, str] = {}
        self.display = _Display(self)
        self.parents = _Edges(self, "SELECT parent FROM snomed_isa WHERE child = ? ORDER BY parent")
        self.children = _Edges(self, "SELECT child FROM snomed_isa WHERE parent = ? ORDER BY child")

    # -- connections and the loaded-or-not check -------------------------------------------------------------
    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.database_url, autocommit=True)
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection this content opened, in whichever thread."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            with contextlib.suppress(Exception):  # a connection whose database has gone: nothing to release
                conn.close()
        self._local = threading.local()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return list(self._conn().execute(self._sql(sql), tuple(args)).fetchall())

    def one(self, sql: str, args: Sequence[Any]) -> Any:
        return self._conn().execute(self._sql(sql), tuple(args)).fetchone()

    def loaded(self) -> SnomedContent | None:
        """Itself when a release is in the database (checked at most every few seconds), else None."""
        now = time.monotonic()
        if now - self._checked >= _RECHECK_SECONDS:
            self._checked = now
            try:
                rows = dict(self.all("SELECT name, value FROM snomed_release", ()))
            except Exception:  # no tables yet, or the database has gone: nothing loaded
                self.close()
                rows = {}
            release = rows.get("loaded") or None
            if release != self._release:
                self._release = release
                self.meta = {"name": "SNOMED CT", "title": "SNOMED CT", **(
                    {"version": rows["version"]} if rows.get("version") else {})}
                bump_generation()
        return self if self._release else None

    # -- the CodeSystem shape --------------------------------------------------------------------------------
    def descendants(self, code: str) -> list[str]:
        """Every concept below `code`; more than MAX_LISTED is refused (422 too-costly) rather than handed to a
        search as a list no database takes as parameters."""
        key = _code(code)
        if key is None:
            return []
        rows = self.all("SELECT descendant FROM snomed_closure WHERE ancestor = ? ORDER BY descendant LIMIT ?",
                        (key, MAX_LISTED + 1))
        if len(rows) > MAX_LISTED:
            raise FhirError("invalid", f"{code} has more than {MAX_LISTED:,} concepts below it in SNOMED CT: too "
                            "many to search by; use a more specific concept.", code="too-costly")
        return [str(r[0]) for r in rows]

    def ancestors(self, code: str) -> list[str]:
        key = _code(code)
        return [str(r[0]) for r in self.all(
            "SELECT ancestor FROM snomed_closure WHERE descendant = ? ORDER BY ancestor", (key,))] if key else []

    def subsumes(self, ancestor: str, code: str) -> bool:
        a, c = _code(ancestor), _code(code)
        if a is None or c is None:
            return False
        return a == c or self.one("SELECT 1 FROM snomed_closure WHERE ancestor = ? AND descendant = ?",
                                  (a, c)) is not None

    # -- set-at-a-time, for expansion ------------------------------------------------------------------------
    def _where(self, filters: Sequence[dict[str, Any]], text: Sequence[str]) -> tuple[str, list[Any]]:
        """SQL conditions on `c` (snomed_concept) for compose filters and filter words (all must hold)."""
        conds: list[str] = []
        args: list[Any] = []
        for w in text:
            conds.append("c.id IN (SELECT concept FROM snomed_word WHERE word >= ? AND word < ?)")
            args += [w, w + "\uffff"]
        below = "EXISTS (SELECT 1 FROM snomed_closure k WHERE k.ancestor = ? AND k.descendant = c.id)" if text \
            else "c.id IN (SELECT descendant FROM snomed_closure WHERE ancestor = ?)"
        for f in filters:
            op, prop, value = f.get("op"), f.get("property"), str(f.get("value", ""))
            if prop not in ("concept", "constraint") or (prop == "constraint" and op != "="):
                raise NotExpandable(f"the filter '{prop} {op} {value}' on {SYSTEM} is not supported")
            if prop == "constraint":  # ECL: the simple forms `<< id`, `< id` and `id`
                found = re.fullmatch(r"\s*(<<|<)?\s*(\d+)\s*(\|[^|]*\|)?\s*", value)
                if found is None:
                    raise NotExpandable(f"the ECL constraint '{value}' is beyond the simple forms supported")
                op = {"<<": "is-a", "<": "descendent-of", None: "="}[found.group(1)]
                value = found.group(2)
            ids = [_code(v.strip()) or -1 for v in value.split(",")] if op == "in" else [_code(value) or -1]
            if op == "is-a":
                conds.append(f"(c.id = ? OR {below})")
                args += [ids[0], ids[0]]
            elif op == "descendent-of":
                conds.append(below)
                args.append(ids[0])
            elif op == "is-not-a":
                conds.append("NOT (c.id = ? OR EXISTS (SELECT 1 FROM snomed_closure k WHERE k.ancestor = ? "
                             "AND k.descendant = c.id))")
                args += [ids[0], ids[0]]
            elif op in ("=", "in"):
                conds.append(f"c.id IN ({', '.join('?' for _ in ids)})")
                args += ids
            else:
                raise NotExpandable(f"the filter operator '{op}' on {SYSTEM} is not supported")
        return (" AND ".join(conds) or "1 = 1"), args

    def select(self, filters: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
        """(code, display) of every concept meeting the compose filters, by id."""
        where, args = self._where(filters, ())
        return [(str(i), d) for i, d in self.all(
            f"SELECT c.id, c.display FROM snomed_concept c WHERE {where} ORDER BY c.id", args)]

    def page(self, filters: Sequence[dict[str, Any]], text: str | None, offset: int,
             count: int | None) -> tuple[int, list[tuple[str, str]]]:
        """The total and one page of (code, display) meeting the filters and every word of `text`."""
        where, args = self._where(filters, words(text or ""))
        total = int(self.one(f"SELECT count(*) FROM snomed_concept c WHERE {where}", args)[0])
        limit = f" LIMIT {int(count)}" if count is not None else (" LIMIT ALL" if self.postgres else " LIMIT -1")
        rows = self.all(f"SELECT c.id, c.display FROM snomed_concept c WHERE {where} ORDER BY c.id{limit} "
                        f"OFFSET {int(offset)}", args) if count != 0 else []
        return total, [(str(i), d) for i, d in rows]


_INSTALLED: list[SnomedContent] = []


def install(database_url: str) -> SnomedContent:
    """Serve the SNOMED CT release in this database (whenever one is loaded) to the terminology library,
    in place of any served before."""
    uninstall()
    content = SnomedContent(database_url)
    _INSTALLED.append(content)
    provide(SYSTEM, content.loaded)
    return content


def uninstall() -> None:
    """Stop serving SNOMED CT from a database, and close its connections."""
    while _INSTALLED:
        _INSTALLED.pop().close()
    provide(SYSTEM, None)
