"""The store logic shared by both engines, written once against DB-API connections.

`SqlCore` holds no connection itself: each method takes one, so SQLite can run inline on a single
connection and PostgreSQL can borrow from a pool in a worker thread. A write is one database transaction:
a change-log row (the transaction number `t`), the new versions, history rows and index rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import orjson

from caregate.clock import Clock, instant
from caregate.errors import FhirError
from caregate.fhir.xmlformat import json_default
from caregate.search.extract import index_resource, normalize
from caregate.search.fulltext import content_text_from_json, narrative_text
from caregate.search.query import SearchQuery
from caregate.storage import cursor as cursors
from caregate.storage import outbox
from caregate.storage.base import Change, HistoryQuery, Notes, Page, Stored, Write
from caregate.storage.changefeed import CHANNEL, FEED_SQL, HEAD_SQL, PG_FEED_SQL, PG_HEAD_SQL, pg_stamp
from caregate.storage.sql.compiler import (
    compile_count,
    compile_includes,
    compile_latest_first,
    compile_page,
    compile_sorted_page,
)
from caregate.storage.sql.confine import reach_of, reach_sql
from caregate.storage.sql.consent import consent_rows
from caregate.storage.sql.dialect import Dialect
from caregate.storage.sql.keys import param_key
from caregate.storage.sql.schema import (
    CONTAINED_PER_RESOURCE,
    INDEX_COLUMNS,
    INDEX_TABLES,
    ROWS_ATTR,
    SCHEMA_VERSION,
    contained_rid,
    ddl,
)

Conn = Any  # a DB-API connection (sqlite3.Connection or psycopg.Connection)


def _us(dt_: Any) -> int:
    return int(dt_.timestamp() * 1_000_000)


def with_meta(resource: dict, type_: str, id_: str, version: int, last_updated: str) -> dict:
    """The resource as stored: `id` and `meta.versionId`/`meta.lastUpdated` set by the server
    (https://hl7.org/fhir/R4/resource.html#Meta), other meta (tags, profiles, security) kept."""
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = last_updated
    out = {"resourceType": type_, "id": id_, "meta": meta}
    for key, value in resource.items():
        if key not in out:
            out[key] = value
    return out


def _has_nul(node: Any) -> bool:
    if isinstance(node, str):
        return "\x00" in node
    if isinstance(node, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_nul(v) for v in node)
    return False


class SqlCore:
    def __init__(self, dialect: Dialect, clock: Clock) -> None:
        self.d = dialect
        self.clock = clock
        self._sql = dialect.sql
        self._insert_index = {
            t: self._sql(f"INSERT INTO {t} (rid, p, {', '.join(c)}) VALUES "
                         f"(?, ?, {', '.join('?' * len(c))})")
            for t, c in INDEX_COLUMNS.items()
        }
        self._insert_contained = self._sql(
            "INSERT INTO contained (rid, container, type, id, version, lu, last_updated, deleted, t, json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)")
        self._fts_insert = self._sql(dialect.fts_insert)
        self._fts_delete = self._sql(dialect.fts_delete)
        self._json_in: Callable[[bytes], Any] = (lambda b: b.decode()) if dialect.name == "postgresql" \
            else (lambda b: b)
        self._q_read = self._sql(
            f"SELECT r.type, r.id, r.version, r.last_updated, r.deleted, {dialect.json_select}, r.t "
            "FROM resources r WHERE r.type = ? AND r.id = ?")
        self._q_vread = self._sql(
            f"SELECT r.type, r.id, r.version, r.last_updated, r.deleted, {dialect.json_select}, r.t, r.method "
            "FROM history r WHERE r.rid = (SELECT rid FROM resources WHERE type = ? AND id = ?) AND r.version = ?")

    # -- schema ------------------------------------------------------------------------------------
    def migrate(self, conn: Conn) -> None:
        cur = conn.cursor()
        for stmt in ddl(self.d):
            cur.execute(stmt)
        cur.execute("SELECT version FROM schema_version")
        row = cur.fetchone()
        if row is None:
            cur.execute(self._sql("INSERT INTO schema_version (version) VALUES (?)"), (SCHEMA_VERSION,))
        elif row[0] < SCHEMA_VERSION:
            self._reindex(cur)
            cur.execute(self._sql("UPDATE schema_version SET version = ?"), (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            raise FhirError("fault", f"The database schema ({row[0]}) is newer than this caregate "
                                     f"({SCHEMA_VERSION}); upgrade caregate.")
        conn.commit()

    def _reindex(self, cur: Any) -> None:
        """Rebuild every index row from the stored resources: the migration for any change in what is
        indexed or how it is keyed (2: full text; 3: common parameters keyed `Resource.code`, token text
        normalised). Runs in the migrating transaction, in slices of the surrogate key."""
        for table in (*INDEX_TABLES, "idx_text", "contained"):
            cur.execute(f"DELETE FROM {table}")
        select = self._sql(f"SELECT rid, type, {self.d.json_select.replace('r.', '')}, version, lu, last_updated, t "
                           "FROM resources WHERE deleted = 0 AND rid > ? ORDER BY rid LIMIT 1000")
        last = 0
        while True:
            rows = cur.execute(select, (last,)).fetchall()
            if not rows:
                return
            batches: dict[str, list[tuple]] = {name: [] for name in (*INDEX_TABLES, "contained")}
            text_rows: list[tuple] = []
            for rid, type_, stored, version, lu, last_updated, t in rows:
                data = self._bytes(stored)
                body = orjson.loads(data)
                self._index_rows(rid, type_, body, batches)
                self._insert_text(cur, rid, body, text_rows, data)
                if "contained" in body:
                    self._contained_rows(cur, rid, body, (version, lu, last_updated, t), batches, text_rows)
            self._flush(cur, batches, text_rows)
            last = rows[-1][0]

    def _contained_rows(self, cur: Any, rid: int, body: dict, stamp: tuple, batches: dict[str, list[tuple]],
                        text_rows: list[tuple]) -> None:
        """Rows of the resources `body` contains (search.html#contained): each is indexed as its own type under
        its own negative key, and carries its container's version, time and transaction (`stamp`), as
        contained resources have no meta of their own (dom-4)."""
        items = body.get("contained")
        if not isinstance(items, list):
            return
        for position, item in enumerate(items[:CONTAINED_PER_RESOURCE]):
            if not isinstance(item, dict):
                continue
            ctype, cid = item.get("resourceType"), item.get("id")
            if not isinstance(ctype, str) or not isinstance(cid, str):
                continue
            crid = contained_rid(rid, position)
            data = orjson.dumps(item, default=json_default)
            batches["contained"].append((crid, rid, ctype, cid, *stamp, self._json_in(data)))
            self._index_rows(crid, ctype, item, batches)
            self._insert_text(cur, crid, item, text_rows, data)

    def _index_rows(self, rid: int, type_: str, body: dict, batches: dict[str, list[tuple]]) -> None:
        rows = index_resource(body)
        for table in INDEX_TABLES:
            batch = batches[table]
            if table == "idx_consent":  # a privacy Consent's rules, flattened (caregate.storage.sql.consent)
                if type_ == "Consent" and rid > 0:
                    batch += consent_rows(rid, body)
                continue
            if table == "idx_token":  # token text is kept normalised, for :text (search.html#token)
                batch += [(rid, param_key(type_, c), sys_, v, normalize(txt) if txt else None)
                          for c, sys_, v, txt in rows.tokens]
                continue
            for item in getattr(rows, ROWS_ATTR[table]):
                batch.append((rid, param_key(type_, item[0]), *item[1:]))

    def _flush(self, cur: Any, batches: dict[str, list[tuple]], text_rows: list[tuple]) -> None:
        for table, batch in batches.items():
            if batch:
                cur.executemany(self._insert_contained if table == "contained" else self._insert_index[table],
                                batch)
        if text_rows:
            cur.executemany(self._fts_insert, text_rows)

    def _insert_text(self, cur: Any, rid: int, body: dict, batch: list[tuple] | None = None,
                     data: bytes | None = None) -> None:
        rows = []
        narrative = narrative_text(body)
        content = content_text_from_json(data if data is not None else orjson.dumps(body))
        if narrative:
            rows.append((rid, 0, normalize(narrative)))
        if content:
            rows.append((rid, 1, normalize(content)))
        if batch is not None:
            batch += rows
        elif rows:
            cur.executemany(self._fts_insert, rows)

    # -- reads -------------------------------------------------------------------------------------
    @staticmethod
    def _bytes(value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode()
        return bytes(value)

    def read(self, conn: Conn, type_: str, id_: str) -> Stored | None:
        row = conn.execute(self._q_read, (type_, id_)).fetchone()
        if row is None:
            return None
        return Stored(row[0], row[1], row[2], row[3], bool(row[4]), self._bytes(row[5]), row[6])

    def vread(self, conn: Conn, type_: str, id_: str, version: int) -> Stored | None:
        row = conn.execute(self._q_vread, (type_, id_, version)).fetchone()
        if row is None:
            return None
        return Stored(row[0], row[1], row[2], row[3], bool(row[4]), self._bytes(row[5]), row[6], row[7])

    # -- writes ------------------------------------------------------------------------------------
    def transact(self, conn: Conn, writes: Sequence[Write], notes: Notes | None = None) -> list[Stored]:
        """Apply `writes` atomically, with the outbox notes `notes` gives for them; the caller commits (or rolls
        back on any exception).

        Statements are batched: one lookup of the current versions, multi-row inserts of new resources,
        one update per changed resource, and index rows per table, so a 500-resource Bundle costs a handful
        of round trips rather than thousands."""
        now = self.clock.now()
        lu = _us(now)
        last_updated = instant(now)
        cur = conn.cursor()
        if self.d.name == "postgresql":
            # The transaction id before `t`, so a reader's snapshot lists every holder of an unseen `t`; the
            # notification reaches listeners at commit only. `t` itself is taken at the end (`pg_stamp`), and
            # until then the rows carry minus the transaction id (see caregate.storage.changefeed).
            cur.execute("SELECT pg_current_xact_id()::text, pg_notify(%s, '')", (CHANNEL,))
            t = -int(cur.fetchone()[0])
        else:
            cur.execute(self._sql("INSERT INTO changes (ts, n) VALUES (?, ?) RETURNING t"), (lu, len(writes)))
            t = cur.fetchone()[0]
        state = self._current(cur, writes)  # (type, id) -> [rid | None, version, deleted]
        existed = {row[0] for row in state.values()}
        out: list[Stored] = []
        plans: list[tuple] = []  # (key, version, body | None, data | None, method)
        inserts: list[tuple] = []
        for w in writes:
            key = (w.type, w.id)
            row = state.get(key)
            if row is not None and row[0] is None:  # created earlier in this transaction: get its rid now
                self._insert_new(cur, inserts, state)
                inserts = []
            self._check_preconditions(w, row)
            if w.method == "delete":
                if row is None or row[2]:
                    out.append(Stored(w.type, w.id, row[1] if row else 0, last_updated, True, b"", t, "noop"))
                    continue
                row[1], row[2] = row[1] + 1, 1
                plans.append((key, row[1], None, None, "delete"))
                out.append(Stored(w.type, w.id, row[1], last_updated, True, b"", t, "delete"))
                continue
            assert w.resource is not None
            version = row[1] + 1 if row else 1
            body = with_meta(w.resource, w.type, w.id, version, last_updated)
            data = orjson.dumps(body, default=json_default)
            if b"\\u0000" in data and _has_nul(body):
                raise FhirError("invalid", f"{w.type}/{w.id} contains the character U+0000, which FHIR strings do "
                                           "not allow (https://hl7.org/fhir/R4/datatypes.html#string).")
            method = "create" if row is None or row[2] else "update"
            if row is None:
                state[key] = [None, version, 0]
                inserts.append((w.type, w.id, version, lu, last_updated, t, self._json_in(data)))
                method = "insert"
            else:
                row[1], row[2] = version, 0
            plans.append((key, version, body, data, method))
            out.append(Stored(w.type, w.id, version, last_updated, False, data, t,
                              "create" if method == "insert" else method))
        self._insert_new(cur, inserts, state)
        self._apply(cur, plans, state, existed, lu, last_updated, t)
        if t < 0:
            t = pg_stamp(cur, t, lu, len(writes), [row[0] for row in state.values() if row[0] is not None])
            out = [replace(s, t=t) for s in out]
        if notes is not None:
            outbox.put(cur, self.d, notes, out)
        return out

    def _current(self, cur: Any, writes: Sequence[Write]) -> dict[tuple[str, str], list]:
        """Current version rows of every resource the writes touch (locked on PostgreSQL)."""
        by_type: dict[str, set[str]] = {}
        for w in writes:
            by_type.setdefault(w.type, set()).add(w.id)
        lock = " FOR UPDATE" if self.d.name == "postgresql" else ""
        state: dict[tuple[str, str], list] = {}
        for type_, ids in by_type.items():
            ordered = sorted(ids)
            for i in range(0, len(ordered), 500):
                chunk = ordered[i:i + 500]
                marks = ", ".join("?" * len(chunk))
                rows = cur.execute(self._sql(f"SELECT rid, id, version, deleted FROM resources WHERE type = ? "
                                             f"AND id IN ({marks}) ORDER BY id{lock}"), (type_, *chunk)).fetchall()
                for rid, id_, version, deleted in rows:
                    state[(type_, id_)] = [rid, version, deleted]
        return state

    def _insert_new(self, cur: Any, inserts: list[tuple], state: dict[tuple[str, str], list]) -> None:
        for i in range(0, len(inserts), 200):
            chunk = inserts[i:i + 200]
            values = ", ".join(["(?, ?, ?, ?, ?, 0, ?, ?)"] * len(chunk))
            rows = cur.execute(self._sql("INSERT INTO resources (type, id, version, lu, last_updated, deleted, t, "
                                         f"json) VALUES {values} RETURNING rid, type, id"),
                               [v for row in chunk for v in row]).fetchall()
            for rid, type_, id_ in rows:
                state[(type_, id_)][0] = rid

    def _apply(self, cur: Any, plans: list[tuple], state: dict[tuple[str, str], list], existed: set[int],
               lu: int, last_updated: str, t: int) -> None:
        """Resource rows, history, and the index rows of each resource's final version in this transaction."""
        last = {key: i for i, (key, *_rest) in enumerate(plans)}
        updates, history, stale = [], [], set()
        batches: dict[str, list[tuple]] = {name: [] for name in (*INDEX_TABLES, "contained")}
        text_rows: list[tuple] = []
        empty = self._json_in(b"{}")
        for i, (key, version, body, data, method) in enumerate(plans):
            rid = state[key][0]
            if rid in existed:
                stale.add(rid)
            stored_json = empty if body is None else self._json_in(data)
            deleted = 1 if body is None else 0
            if method != "insert":
                updates.append((version, lu, last_updated, deleted, t, stored_json, rid))
            history.append((rid, version, key[0], key[1], lu, last_updated, deleted,
                            "create" if method == "insert" else method, t, stored_json))
            if body is not None and last[key] == i:
                self._index_rows(rid, key[0], body, batches)
                self._insert_text(cur, rid, body, text_rows, data)
                if "contained" in body:
                    self._contained_rows(cur, rid, body, (version, lu, last_updated, t), batches, text_rows)
        if updates:
            cur.executemany(self._sql("UPDATE resources SET version = ?, lu = ?, last_updated = ?, deleted = ?, "
                                      "t = ?, json = ? WHERE rid = ?"), updates)
        if stale:
            ordered = sorted(stale)
            for i in range(0, len(ordered), 500):
                chunk = ordered[i:i + 500]
                marks = ", ".join("?" * len(chunk))
                inner = [r[0] for r in cur.execute(self._sql(f"SELECT rid FROM contained WHERE container IN "
                                                            f"({marks})"), chunk).fetchall()]
                if inner:
                    cur.execute(self._sql(f"DELETE FROM contained WHERE container IN ({marks})"), chunk)
                for keys in (chunk, *(inner[j:j + 500] for j in range(0, len(inner), 500))):
                    keys_marks = ", ".join("?" * len(keys))
                    for table in INDEX_TABLES:
                        cur.execute(self._sql(f"DELETE FROM {table} WHERE rid IN ({keys_marks})"), keys)
                    cur.executemany(self._fts_delete, [(rid, rid) for rid in keys])
        cur.executemany(self._sql("INSERT INTO history (rid, version, type, id, lu, last_updated, deleted, method, "
                                  "t, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), history)
        self._flush(cur, batches, text_rows)

    @staticmethod
    def _check_preconditions(w: Write, row: tuple | None) -> None:
        exists = row is not None and not row[2]
        if w.if_match is not None and (not exists or row is None or row[1] != w.if_match):
            current = f"version {row[1]}" if exists and row is not None else "no current version"
            raise FhirError("precondition", f"{w.type}/{w.id} has {current}, not version {w.if_match} as "
                                            "If-Match expected; read it again and reapply the change.")
        if w.must_exist and not exists:
            raise FhirError("not-found", f"{w.type}/{w.id} does not exist.")

    # -- search ------------------------------------------------------------------------------------
    def search(self, conn: Conn, query: SearchQuery, page_size: int, types: list[str] | None = None) -> Page:
        if query.count_only:
            c = compile_count(query, types)
            total = conn.execute(self._sql(c.sql), c.args).fetchone()[0]
            return Page([], total=total)
        after = before = None
        total: int | None = None
        offset = 0
        if query.cursor:
            pos = cursors.decode(query.cursor, self._now_s())
            after, before, total, offset = pos.get("a"), pos.get("b"), pos.get("n"), pos.get("o", 0)
            if not isinstance(after or before or 0, int) or not isinstance(offset, int) or offset < 0:
                raise FhirError("incorrect", "The paging link is not valid; start the search again.")
        want_total = query.total != "none" and total is None and not query.cursor
        if query.sort:
            return self._sorted(conn, query, page_size, types, offset, total, want_total)
        c = compile_page(query, limit=page_size + 1, after=after, before=before,
                         types=types, json_col=self.d.json_select)
        rows = conn.execute(self._sql(c.sql), c.args).fetchall()
        more = len(rows) > page_size
        if want_total:
            total = self._total(conn, query, types, rows, more)
        rows = rows[:page_size]
        if before is not None:
            rows.reverse()
        items = self._with_containers(conn, [Stored(r[1], r[2], r[3], r[4], False, self._bytes(r[5]), rid=r[0])
                                             for r in rows])
        page = Page(items, total=total)
        self._include(conn, query, page)
        if rows:
            first, last = rows[0][0], rows[-1][0]
            has_next = more if before is None else True
            has_prev = (after is not None) or (before is not None and more)
            if has_next:
                page.next_cursor = self._cursor({"a": last, "n": total})
            if has_prev:
                page.prev_cursor = self._cursor({"b": first, "n": total})
        return page

    def _sorted(self, conn: Conn, query: SearchQuery, page_size: int, types: list[str] | None, offset: int,
                total: int | None, want_total: bool) -> Page:
        latest = compile_latest_first(query, limit=page_size + 1, offset=offset, types=types,
                                      json_col=self.d.json_select)
        if latest is not None:
            rows = self._latest_first(conn, latest, page_size + 1, offset)
        else:
            c = compile_sorted_page(query, limit=page_size + 1, offset=offset, types=types,
                                    json_col=self.d.json_select)
            rows = conn.execute(self._sql(c.sql), c.args).fetchall()
        more = len(rows) > page_size
        if want_total:
            total = self._total(conn, query, types, rows, more)
        rows = rows[:page_size]
        items = self._with_containers(conn, [Stored(r[1], r[2], r[3], r[4], False, self._bytes(r[5]), rid=r[0])
                                             for r in rows])
        page = Page(items, total=total)
        self._include(conn, query, page)
        if more:
            page.next_cursor = self._cursor({"o": offset + page_size, "n": total})
        if offset > 0:
            page.prev_cursor = self._cursor({"o": max(0, offset - page_size), "n": total})
        return page

    def _latest_first(self, conn: Conn, latest: Any, limit: int, offset: int) -> list:
        """A latest-first page: resources with a date in index order, then, past the last of them, those
        without one (which a descending sort puts last), positioned by the same offset."""
        rows = conn.execute(self._sql(latest.dated.sql), latest.dated.args).fetchall()
        if len(rows) >= limit:
            return rows
        if rows:
            rest = latest.undated(limit - len(rows), 0)
        else:  # the page starts among the undated: skip as many of them as the offset passes the dated
            dated = conn.execute(self._sql(latest.count_dated.sql), latest.count_dated.args).fetchone()[0]
            rest = latest.undated(limit, max(0, offset - dated))
        return rows + conn.execute(self._sql(rest.sql), rest.args).fetchall()

    def _with_containers(self, conn: Conn, items: list[Stored]) -> list[Stored]:
        """Name the container of each contained resource on a page (search.html#contained): one lookup, made
        only when the page holds any."""
        inner = [s.rid for s in items if s.rid < 0]
        if not inner:
            return items
        marks = ", ".join("?" * len(inner))
        rows = conn.execute(self._sql(f"SELECT c.rid, p.type, p.id FROM contained c JOIN resources p ON "
                                      f"p.rid = c.container WHERE c.rid IN ({marks})"), inner).fetchall()
        holder = {rid: f"{t}/{i}" for rid, t, i in rows}
        return [replace(s, container=holder.get(s.rid)) if s.rid < 0 else s for s in items]

    # An estimate (`_total=estimate`) at or under this many rows is replaced by the exact count, which is then
    # cheap, while a planner's estimate of a small set is often far out.
    ESTIMATE_EXACT_BELOW = 1000

    def _total(self, conn: Conn, query: SearchQuery, types: list[str] | None, rows: list, more: bool) -> int:
        """Bundle.total for a first page: free when the page holds every match, else one COUNT over the
        index alone (never over the stored JSON). `_total=estimate` (search.html#total) takes PostgreSQL's
        planner estimate instead of counting, never less than the page already proves."""
        if not more:
            return len(rows)
        c = compile_count(query, types)
        if query.total == "estimate" and self.d.name == "postgresql":
            estimate = self._planner_rows(conn, c)
            if estimate is not None and estimate > self.ESTIMATE_EXACT_BELOW:
                return max(estimate, len(rows))
        return conn.execute(self._sql(c.sql), c.args).fetchone()[0]

    def _planner_rows(self, conn: Conn, count: Any) -> int | None:
        """The rows PostgreSQL's planner expects the search to match, from its statistics: planning only."""
        sql = count.sql.replace("SELECT COUNT(*) FROM", "SELECT 1 FROM", 1)
        row = conn.execute(self._sql(f"EXPLAIN (FORMAT JSON) {sql}"), count.args).fetchone()
        plan = row[0] if row else None
        if isinstance(plan, str | bytes):
            plan = orjson.loads(plan)
        try:
            return int(plan[0]["Plan"]["Plan Rows"])
        except (TypeError, KeyError, IndexError, ValueError):
            return None

    INCLUDE_CAP = 1000
    INCLUDE_LEVELS = 4

    def _include(self, conn: Conn, query: SearchQuery, page: Page) -> None:
        """`_include`/`_revinclude`: one query per level; `:iterate` ones repeat on what was just included
        (up to INCLUDE_LEVELS). Past INCLUDE_CAP the page says so rather than silently dropping any."""
        if not (query.includes or query.revincludes) or not page.items:
            return
        seen = {(s.type, s.id) for s in page.items if s.rid >= 0}
        frontier = page.items
        includes, revincludes = query.includes, query.revincludes
        for _level in range(self.INCLUDE_LEVELS):
            room = self.INCLUDE_CAP - len(page.included)
            # a contained resource is referred to only by `#id` inside its container: nothing to revinclude
            c = compile_includes([s.rid for s in frontier], [(s.type, s.id) for s in frontier if s.rid >= 0], includes,
                                 revincludes, room + 1, self.d.json_select,
                                 reach_of(query.confine, query.refused, query.viewer, query.hidden))
            if c is None:
                return
            rows = conn.execute(self._sql(c.sql), c.args).fetchall()
            fresh = []
            for r in rows:
                if (r[1], r[2]) in seen:
                    continue
                if len(page.included) >= self.INCLUDE_CAP:
                    page.includes_capped = True
                    return
                seen.add((r[1], r[2]))
                stored = Stored(r[1], r[2], r[3], r[4], False, self._bytes(r[5]), rid=r[0])
                page.included.append(stored)
                fresh.append(stored)
            includes = [i for i in includes if i.iterate]
            revincludes = [i for i in revincludes if i.iterate]
            if not fresh or not (includes or revincludes):
                return
            frontier = fresh

    def _now_s(self) -> int:
        return int(self.clock.now().timestamp())

    def _cursor(self, position: dict) -> str:
        return cursors.encode(position, self._now_s())

    # -- history -----------------------------------------------------------------------------------
    def history(self, conn: Conn, q: HistoryQuery) -> Page:
        """Newest first, per https://hl7.org/fhir/R4/http.html#history; keyset-paged on (t, rid)."""
        where, args = [], []
        if q.type and q.id:
            where.append("r.type = ? AND r.id = ?")
            args += [q.type, q.id]
        elif q.type:
            where.append("r.type = ?")
            args.append(q.type)
        reach = reach_of(q.confine, q.refused, q.viewer, q.hidden)
        if reach is not None:
            where.append(reach_sql(q.type, reach, args))
        if q.since_us is not None:
            where.append("r.lu >= ?")
            args.append(q.since_us)
        if q.cursor:
            pos = cursors.decode(q.cursor, self._now_s())
            t, rid = pos.get("t"), pos.get("r")
            if not isinstance(t, int) or not isinstance(rid, int):
                raise FhirError("incorrect", "The paging link is not valid; start again.")
            where.append("(r.t < ? OR (r.t = ? AND r.rid < ?))")
            args += [t, t, rid]
        sql = (f"SELECT r.type, r.id, r.version, r.last_updated, r.deleted, {self.d.json_select}, r.t, r.method, "
               f"r.rid FROM history r {'WHERE ' + ' AND '.join(where) if where else ''} "
               "ORDER BY r.t DESC, r.rid DESC LIMIT ?")
        rows = conn.execute(self._sql(sql), (*args, q.count + 1)).fetchall()
        more = len(rows) > q.count
        rows = rows[: q.count]
        items = [Stored(r[0], r[1], r[2], r[3], bool(r[4]), b"" if r[4] else self._bytes(r[5]), r[6], r[7])
                 for r in rows]
        page = Page(items)
        if more and rows:
            page.next_cursor = self._cursor({"t": rows[-1][6], "r": rows[-1][8]})
        return page

    def feed_rows(self, conn: Conn, after_t: int, limit: int) -> list[tuple]:
        """Whole transactions after `after_t`: (t, type, id, version, method) rows, type None for an empty one."""
        return conn.execute(self._sql(FEED_SQL), (after_t, limit)).fetchall()

    def pg_feed_rows(self, conn: Conn, after_t: int, limit: int) -> tuple[str, list[tuple]]:
        """`feed_rows` and the snapshot they were read in, in one statement (PostgreSQL)."""
        rows = conn.execute(PG_FEED_SQL, (after_t, limit)).fetchall()
        return rows[0][0], [r[1:] for r in rows]

    def newest_t(self, conn: Conn) -> int:
        return conn.execute(HEAD_SQL).fetchone()[0] or 0

    def pg_newest_t(self, conn: Conn) -> tuple[str, int]:
        snap, t = conn.execute(PG_HEAD_SQL).fetchone()
        return snap, t or 0

    def changes(self, conn: Conn, after_t: int, limit: int) -> list[Change]:
        rows = conn.execute(self._sql("SELECT t, type, id, version, method FROM history WHERE t > ? "
                                      "ORDER BY t, rid LIMIT ?"), (after_t, limit)).fetchall()
        return [Change(*r) for r in rows]
