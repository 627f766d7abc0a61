"""The database schema, shared by both engines, and its migrations.

Resources are stored once per version (`history`), with the current version also in `resources` so reads
are one primary-key lookup. Index tables hold one row per extracted search value of the *current* version,
keyed by the resource's surrogate `rid` and a parameter key `p` = "Type.code". Dates are inclusive
[lo, hi] microsecond ranges so every prefix is a range comparison (https://hl7.org/fhir/R4/search.html#date).
`changes` is the change log: a rising transaction number `t` per write, read by subscriptions.

Contained resources (https://hl7.org/fhir/R4/references.html#contained) are indexed too, so `_contained`
searches and chains through local references work (search.html#contained): each gets a row in `contained`
with a negative surrogate key derived from its container's (see `contained_rid`), and its index rows sit in
the same index tables under that key. The columns mirror `resources`, so one compiled WHERE clause serves
either table; no ordinary query ever meets a contained row, since none joins on a negative key.
"""

from __future__ import annotations

from caregate.storage.sql.dialect import Dialect

SCHEMA_VERSION = 6

INDEX_TABLES = ("idx_string", "idx_token", "idx_ref", "idx_date", "idx_number", "idx_quantity", "idx_uri",
                "idx_composite", "idx_consent")
# What a write fills: after a bulk load these get fresh planner statistics (see `statistics_sql`)
DATA_TABLES = ("resources", "history", "changes", "contained", *INDEX_TABLES, "idx_text")


def statistics_sql(d: Dialect) -> list[str]:
    """Statements giving the planner fresh statistics on every table a write fills, run after a bulk load.

    Without them PostgreSQL plans the access conditions (relationships, consent) as if the freshly filled
    tables were empty until autovacuum happens to come by. On PostgreSQL `VACUUM (ANALYZE)` also sets the
    visibility map, so index lookups on the index tables stay index-only; it must run outside a transaction.
    SQLite's `ANALYZE` samples at most `analysis_limit` rows per index, which keeps it to a moment on a large
    database (https://sqlite.org/lang_analyze.html#approx); the full-text table is virtual and has none.
    """
    if d.name == "sqlite":
        return ["PRAGMA analysis_limit=1000", *(f"ANALYZE {t}" for t in DATA_TABLES if t != "idx_text")]
    return [f"VACUUM (ANALYZE) {t}" for t in DATA_TABLES]


def ddl(d: Dialect) -> list[str]:
    """Statements creating schema version 1 (idempotent)."""
    txt = d.text_c
    return [
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS resources (
            rid {d.rowid},
            type {txt} NOT NULL,
            id {txt} NOT NULL,
            version INTEGER NOT NULL,
            lu BIGINT NOT NULL,
            last_updated TEXT NOT NULL,
            deleted SMALLINT NOT NULL DEFAULT 0,
            t BIGINT NOT NULL,
            json {d.json_type} NOT NULL,
            UNIQUE (type, id))""",
        "CREATE INDEX IF NOT EXISTS resources_type_lu ON resources (type, lu)",
        f"""CREATE TABLE IF NOT EXISTS history (
            rid BIGINT NOT NULL,
            version INTEGER NOT NULL,
            type {txt} NOT NULL,
            id {txt} NOT NULL,
            lu BIGINT NOT NULL,
            last_updated TEXT NOT NULL,
            deleted SMALLINT NOT NULL,
            method TEXT NOT NULL,
            t BIGINT NOT NULL,
            json {d.json_type} NOT NULL,
            PRIMARY KEY (rid, version))""",
        "CREATE INDEX IF NOT EXISTS history_t ON history (t)",
        "CREATE INDEX IF NOT EXISTS history_type_t ON history (type, t)",
        f"""CREATE TABLE IF NOT EXISTS changes (
            t {d.rowid},
            ts BIGINT NOT NULL,
            n INTEGER NOT NULL)""",
        f"CREATE TABLE IF NOT EXISTS idx_string (rid BIGINT NOT NULL, p {txt} NOT NULL, norm {txt} NOT NULL,"
        f" exact {txt} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS idx_string_p ON idx_string (p, norm)",
        "CREATE INDEX IF NOT EXISTS idx_string_rid ON idx_string (rid)",
        f"CREATE TABLE IF NOT EXISTS idx_token (rid BIGINT NOT NULL, p {txt} NOT NULL, system {txt},"
        f" code {txt}, text TEXT)",
        "CREATE INDEX IF NOT EXISTS idx_token_p ON idx_token (p, code, system)",
        "CREATE INDEX IF NOT EXISTS idx_token_rid ON idx_token (rid)",
        f"CREATE TABLE IF NOT EXISTS idx_ref (rid BIGINT NOT NULL, p {txt} NOT NULL, ttype {txt},"
        f" tid {txt}, tversion {txt}, url {txt} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS idx_ref_p ON idx_ref (p, tid, ttype)",
        "CREATE INDEX IF NOT EXISTS idx_ref_target ON idx_ref (tid, ttype)",
        "CREATE INDEX IF NOT EXISTS idx_ref_rid ON idx_ref (rid)",
        f"CREATE TABLE IF NOT EXISTS idx_date (rid BIGINT NOT NULL, p {txt} NOT NULL, lo BIGINT NOT NULL,"
        " hi BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS idx_date_p ON idx_date (p, lo, hi)",
        "CREATE INDEX IF NOT EXISTS idx_date_rid ON idx_date (rid)",
        # `_sort=-date` read in index order (see storage.sql.compiler.compile_latest_first)
        "CREATE INDEX IF NOT EXISTS idx_date_latest ON idx_date (p, hi DESC, rid)",
        f"CREATE TABLE IF NOT EXISTS idx_number (rid BIGINT NOT NULL, p {txt} NOT NULL,"
        " lo DOUBLE PRECISION NOT NULL, hi DOUBLE PRECISION NOT NULL)",
        "CREATE INDEX IF NOT EXISTS idx_number_p ON idx_number (p, lo)",
        "CREATE INDEX IF NOT EXISTS idx_number_rid ON idx_number (rid)",
        f"CREATE TABLE IF NOT EXISTS idx_quantity (rid BIGINT NOT NULL, p {txt} NOT NULL, system {txt},"
        f" code {txt}, unit TEXT, value DOUBLE PRECISION NOT NULL)",
        "CREATE INDEX IF NOT EXISTS idx_quantity_p ON idx_quantity (p, value)",
        "CREATE INDEX IF NOT EXISTS idx_quantity_rid ON idx_quantity (rid)",
        f"CREATE TABLE IF NOT EXISTS idx_uri (rid BIGINT NOT NULL, p {txt} NOT NULL, uri {txt} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS idx_uri_p ON idx_uri (p, uri)",
        "CREATE INDEX IF NOT EXISTS idx_uri_rid ON idx_uri (rid)",
        *_fulltext(d),
        # version 4: composite parameters (search.html#composite; see caregate.search.composite)
        f"CREATE TABLE IF NOT EXISTS idx_composite (rid BIGINT NOT NULL, p {txt} NOT NULL, a1 {txt}, a2 {txt},"
        f" b1 {txt}, b2 {txt}, num DOUBLE PRECISION, lo BIGINT, hi BIGINT)",
        "CREATE INDEX IF NOT EXISTS idx_composite_p ON idx_composite (p, a2, b2)",
        "CREATE INDEX IF NOT EXISTS idx_composite_rid ON idx_composite (rid)",
        # version 5: contained resources (search.html#contained)
        f"""CREATE TABLE IF NOT EXISTS contained (
            rid BIGINT NOT NULL PRIMARY KEY,
            container BIGINT NOT NULL,
            type {txt} NOT NULL,
            id {txt} NOT NULL,
            version INTEGER NOT NULL,
            lu BIGINT NOT NULL,
            last_updated TEXT NOT NULL,
            deleted SMALLINT NOT NULL DEFAULT 0,
            t BIGINT NOT NULL,
            json {d.json_type} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS contained_container ON contained (container)",
        "CREATE INDEX IF NOT EXISTS contained_type ON contained (type, rid)",
        # version 6: the rules of patients' privacy Consents (see caregate.storage.sql.consent)
        f"CREATE TABLE IF NOT EXISTS idx_consent (rid BIGINT NOT NULL, p {txt} NOT NULL, patient {txt} NOT NULL,"
        f" path {txt} NOT NULL, effect {txt} NOT NULL, grp {txt}, dim {txt} NOT NULL, sys {txt}, code {txt},"
        " lo BIGINT, hi BIGINT)",
        "CREATE INDEX IF NOT EXISTS idx_consent_patient ON idx_consent (patient, dim)",
        "CREATE INDEX IF NOT EXISTS idx_consent_rid ON idx_consent (rid, path)",
        outbox_ddl(d),  # notes committed with the writes that left them (see caregate.storage.outbox)
    ]


def outbox_ddl(d: Dialect) -> str:
    """The outbox table. Ids only rise (SQLite's AUTOINCREMENT never reuses a deleted row's), so they give the
    order notes were committed in, near enough: PostgreSQL hands ids out at insert, before commit."""
    if d.name == "sqlite":
        return ("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, "
                "body BLOB NOT NULL)")
    return f"CREATE TABLE IF NOT EXISTS outbox (id {d.rowid}, topic TEXT NOT NULL, body BYTEA NOT NULL)"


def _fulltext(d: Dialect) -> list[str]:
    """Version 2: full-text rows for `_text` (k=0) and `_content` (k=1) (search.html#content)."""
    if d.name == "sqlite":
        return ["CREATE VIRTUAL TABLE IF NOT EXISTS idx_text USING fts5(rid UNINDEXED, k UNINDEXED, body, "
                "tokenize = 'unicode61 remove_diacritics 2', detail = none)"]
    return [
        "CREATE TABLE IF NOT EXISTS idx_text (rid BIGINT NOT NULL, k SMALLINT NOT NULL, body TSVECTOR NOT NULL)",
        "CREATE INDEX IF NOT EXISTS idx_text_body ON idx_text USING GIN (body)",
        "CREATE INDEX IF NOT EXISTS idx_text_rid ON idx_text (rid)",
    ]


CONTAINED_PER_RESOURCE = 1024  # contained resources indexed per container; more is far beyond real use


def contained_rid(container_rid: int, position: int) -> int:
    """The surrogate key of the contained resource at `position` in its container: negative, so it never
    collides with a resource's, and computed rather than stored, so writes need no extra round trip."""
    return -(container_rid * CONTAINED_PER_RESOURCE + position + 1)


# Columns of each index table after (rid, p), in the order `IndexRows` tuples give them after the code.
INDEX_COLUMNS: dict[str, tuple[str, ...]] = {
    "idx_string": ("norm", "exact"),
    "idx_token": ("system", "code", "text"),
    "idx_ref": ("ttype", "tid", "tversion", "url"),
    "idx_date": ("lo", "hi"),
    "idx_number": ("lo", "hi"),
    "idx_quantity": ("system", "code", "unit", "value"),
    "idx_uri": ("uri",),
    "idx_composite": ("a1", "a2", "b1", "b2", "num", "lo", "hi"),
    "idx_consent": ("patient", "path", "effect", "grp", "dim", "sys", "code", "lo", "hi"),
}

# Which IndexRows attribute feeds which table.
ROWS_ATTR: dict[str, str] = {
    "idx_string": "strings",
    "idx_token": "tokens",
    "idx_ref": "references",
    "idx_date": "dates",
    "idx_number": "numbers",
    "idx_quantity": "quantities",
    "idx_uri": "uris",
    "idx_composite": "composites",
}
