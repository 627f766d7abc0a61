"""Patients' privacy Consents as SQL: their flattened rules (caregate.fhir.consent_rules) are stored as index
rows of the Consent, written in the same transaction, and read inside the one search query.

`idx_consent` holds, per rule, one row with `dim` = 'rule' (its `effect` and `path`) and one row per term of
its conditions. A rule applies to a row `r` when each of its condition groups has a matching term; a row of
a patient is excluded when a deny rule of one of that patient's Consents applies and no permit rule nested in
it does (see the flattener for why that is the spec's reading). Writing, changing or withdrawing a Consent
therefore counts from the next query on.
"""

from __future__ import annotations

from caregate.fhir.consent_rules import RESOURCE_TYPES, flatten
from caregate.search.dates import parse_range
from caregate.search.viewer import ODS_ORGANIZATION, Viewer
from caregate.storage.sql.keys import param_key

KEY = "Consent.provision"
COLUMNS = ("patient", "path", "effect", "grp", "dim", "sys", "code", "lo", "hi")
_OPEN_LOW, _OPEN_HIGH = -(2 ** 62), 2 ** 62


def _bound(value: str | None, end: int, open_: int) -> int | None:
    if value is None:
        return open_
    try:
        return parse_range(value)[end]
    except ValueError:
        return None


def consent_rows(rid: int, body: dict) -> list[tuple]:
    """Index rows (rid, p, *COLUMNS) of a Consent: none unless it is a privacy Consent in force."""
    rows: list[tuple] = []
    for rule in flatten(body):
        groups = len({t.group for t in rule.terms})
        rows.append((rid, KEY, rule.patient, rule.path, rule.effect, None, "rule", None, None, groups, None))
        for t in rule.terms:
            lo, hi = _bound(t.low, 0, _OPEN_LOW), _bound(t.high, 1, _OPEN_HIGH)
            if lo is None or hi is None:  # an unreadable period matches nothing
                lo, hi = 1, 0
            if t.dim not in ("period", "dataPeriod"):
                lo = hi = None
            rows.append((rid, KEY, rule.patient, rule.path, rule.effect, t.group, t.dim, t.system, t.code, lo, hi))
    return rows


def _matches(t: str, viewer: Viewer, now_us: int, alias: str, args: list) -> str:
    """Term `t` holds for this request (the viewer, their purpose) and the row `alias`."""
    people = []
    for ref in viewer.refs:
        type_, _, id_ = ref.partition("/")
        people.append(f"({t}.sys = ? AND {t}.code = ?)")
        args += [type_, id_]
    org = "1 = 0"
    if viewer.org:
        org = (f"({t}.sys = 'Organization' AND ({t}.code = ? OR {t}.code IN (SELECT o.id FROM resources o JOIN "
               "idx_token oi ON oi.rid = o.rid WHERE o.type = 'Organization' AND o.deleted = 0 AND oi.p = ? "
               "AND oi.system = ? AND oi.code = ?)))")
        args += [viewer.org, param_key("Organization", "identifier"), ODS_ORGANIZATION, viewer.org]
    args += [viewer.purpose, RESOURCE_TYPES, now_us, now_us]
    return (f"(({t}.dim = 'actor' AND ({' OR '.join([*people, org])})) "
            f"OR ({t}.dim = 'purpose' AND {t}.code = ?) "
            f"OR ({t}.dim = 'class' AND {t}.code = {alias}.type AND ({t}.sys IS NULL OR {t}.sys = ?)) "
            f"OR ({t}.dim = 'data' AND {t}.sys = {alias}.type AND {t}.code = {alias}.id) "
            f"OR ({t}.dim = 'code' AND EXISTS (SELECT 1 FROM idx_token x WHERE x.rid = {alias}.rid "
            f"AND x.p = {alias}.type || '.code' AND x.code = {t}.code AND ({t}.sys IS NULL OR x.system = {t}.sys))) "
            f"OR ({t}.dim = 'security' AND EXISTS (SELECT 1 FROM idx_token x WHERE x.rid = {alias}.rid "
            f"AND x.p = 'Resource._security' AND x.code = {t}.code AND ({t}.sys IS NULL OR x.system = {t}.sys))) "
            f"OR ({t}.dim = 'dataPeriod' AND EXISTS (SELECT 1 FROM idx_date x WHERE x.rid = {alias}.rid "
            f"AND x.p = {alias}.type || '.date' AND x.lo <= {t}.hi AND x.hi >= {t}.lo)) "
            f"OR ({t}.dim = 'period' AND {t}.lo <= ? AND {t}.hi >= ?))")


def _applies(rule: str, viewer: Viewer, now_us: int, alias: str, args: list) -> str:
    """The rule row `rule` applies: each of its condition groups (their number is the rule row's `lo`) has a
    matching term. Counting keeps the query shallow, which SQLite's parser needs under chains and `_has`."""
    t = f"{rule}t"
    match = _matches(t, viewer, now_us, alias, args)
    return (f"({rule}.lo = 0 OR (SELECT COUNT(DISTINCT {t}.grp) FROM idx_consent {t} WHERE {t}.rid = {rule}.rid "
            f"AND {t}.path = {rule}.path AND {t}.dim <> 'rule' AND {match}) = {rule}.lo)")


def _denied(d: str, viewer: Viewer, now_us: int, alias: str, args: list) -> str:
    """The deny rule row `d` applies and no permit rule nested in it does."""
    q = f"{d}q"
    applies = _applies(d, viewer, now_us, alias, args)
    excepted = _applies(q, viewer, now_us, alias, args)
    return (f"{d}.dim = 'rule' AND {d}.effect = 'deny' AND {applies} AND NOT EXISTS (SELECT 1 FROM idx_consent {q} "
            f"WHERE {q}.rid = {d}.rid AND {q}.dim = 'rule' AND {q}.effect = 'permit' "
            f"AND {q}.path LIKE {d}.path || '%' AND {q}.path <> {d}.path AND {excepted})")


def outside_denials_sql(type_: str | None, viewer: Viewer, now_us: int, links: str, args: list,
                        alias: str = "r") -> str:
    """A condition true only for rows (of `type_`, or any type) that no patient's privacy Consent denies to
    this viewer: the Patient itself and everything in its compartment (`links`: the compartment's index keys
    as an SQL list) are covered by that patient's Consents."""
    parts = []
    if type_ in (None, "Patient"):
        own = (f"NOT EXISTS (SELECT 1 FROM idx_consent d WHERE d.patient = {alias}.id "
               f"AND {_denied('d', viewer, now_us, alias, args)})")
        parts.append(own if type_ == "Patient" else f"({alias}.type <> 'Patient' OR {own})")
    if links and type_ != "Patient":
        parts.append(f"NOT EXISTS (SELECT 1 FROM idx_ref c JOIN idx_consent e ON e.patient = c.tid "
                     f"WHERE c.rid = {alias}.rid AND c.ttype = 'Patient' AND c.p IN ({links}) "
                     f"AND {_denied('e', viewer, now_us, alias, args)})")
    return " AND ".join(parts) if parts else "1 = 1"
