"""Legitimate relationships as SQL: the patients a member of staff has a reason to see.

A relationship is read from the index rows of the resources that record it, so a registration, a care team or
an admission written or ended counts from the next query on. Each kind is one SELECT of patient ids; the set
is their union, computed inside the one search query (like `confine.refusal_sql`), so totals, paging, chains,
`_has` and includes never see a patient outside it:

- `gp-registration`: Patient.generalPractitioner is the user or their organisation;
- `care-team`: an active CareTeam whose participant.member is the user;
- `encounter`: an open Encounter (arrived, triaged, in-progress, onleave) whose serviceProvider is their
  organisation;
- `episode-of-care`: an active EpisodeOfCare whose managingOrganization is their organisation;
- `referral`: an active ServiceRequest that is an order (R4 has no `referral` intent: a referral is an order,
  http://hl7.org/fhir/R4/valueset-request-intent.html) whose performer is the user or their organisation.
"""

from __future__ import annotations

from collections.abc import Callable

from caregate.search.viewer import ODS_ORGANIZATION, Viewer
from caregate.storage.sql.dialect import FENCE
from caregate.storage.sql.keys import param_key

OPEN_ENCOUNTER = ("arrived", "triaged", "in-progress", "onleave")
ORDERS = ("order", "original-order", "reflex-order", "filler-order", "instance-order")


def _people(alias: str, viewer: Viewer, args: list) -> str:
    """The reference row `alias` points at the user themselves."""
    ors = []
    for ref in viewer.refs:
        type_, _, id_ = ref.partition("/")
        ors.append(f"({alias}.ttype = ? AND {alias}.tid = ?)")
        args += [type_, id_]
    return "(" + " OR ".join(ors) + ")" if ors else "1 = 0"


def _my_org(viewer: Viewer, args: list) -> str:
    """`my_org`: the user's organisation as ids, the one given and that of an Organization with it as ODS code,
    written once for every kind of relationship that names an organisation."""
    args += [viewer.org, param_key("Organization", "identifier"), ODS_ORGANIZATION, viewer.org]
    return ("my_org (id) AS (SELECT CAST(? AS TEXT) UNION ALL SELECT o.id FROM resources o JOIN idx_token oi "
            "ON oi.rid = o.rid WHERE o.type = 'Organization' AND o.deleted = 0 AND oi.p = ? AND oi.system = ? "
            "AND oi.code = ?)")


def _org(alias: str, viewer: Viewer, args: list) -> str:
    """The reference row `alias` points at the user's organisation (`my_org`), named by id or by its ODS code."""
    if not viewer.org:
        return "1 = 0"
    # one IN over both spellings, so the reference index is searched by target rather than scanned
    return f"({alias}.ttype = 'Organization' AND {alias}.tid IN (SELECT id FROM my_org))"


def _recorded(type_: str, patient_param: str, status: tuple[str, ...], actor_param: str,
              who: Callable[[str, Viewer, list], str], viewer: Viewer, args: list,
              extra: tuple[str, tuple[str, ...]] | None = None, by_status: bool = False) -> str:
    """Patients named by `patient_param` of a live `type_` whose status is one of `status` and whose
    `actor_param` reference matches `who`. Index rows exist for the current version of live resources only (a
    deletion removes them) and, under negative keys, for contained ones, which record nothing here: `rid > 0`
    is all the liveness test needed, without reading the resources. The lookup starts from the user's (or
    organisation's) references, which are few, rather than from every resource of the type; or, `by_status`,
    from the resources in one of those states, when they are the fewer (open encounters, beside all an
    organisation has had). That order is fenced in: PostgreSQL's estimate for the organisation's references is
    one row whatever their number, and it would start from them, reading the organisation's whole history of
    encounters on every search."""
    if by_status:
        args += [param_key(type_, "status"), *status, param_key(type_, patient_param), param_key(type_, actor_param)]
        member = who("m", viewer, args)
        return (f"SELECT s.tid FROM (SELECT rid FROM idx_token WHERE p = ? AND code IN "
                f"({', '.join('?' * len(status))}) AND rid > 0{FENCE}) k JOIN idx_ref s ON s.rid = k.rid "
                f"WHERE s.p = ? AND s.ttype = 'Patient' "
                f"AND EXISTS (SELECT 1 FROM idx_ref m WHERE m.rid = k.rid AND m.p = ? AND {member}{FENCE})")
    tokens = [(param_key(type_, "status"), status)] + ([(param_key(type_, extra[0]), extra[1])] if extra else [])
    args.append(param_key(type_, actor_param))
    member = who("m", viewer, args)
    args.append(param_key(type_, patient_param))
    conds = []
    for i, (key, codes) in enumerate(tokens):
        args.append(key)
        args += list(codes)
        conds.append(f"EXISTS (SELECT 1 FROM idx_token k{i} WHERE k{i}.rid = m.rid AND k{i}.p = ? "
                     f"AND k{i}.code IN ({', '.join('?' * len(codes))}))")
    return (f"SELECT s.tid FROM idx_ref m JOIN idx_ref s ON s.rid = m.rid "
            f"WHERE m.p = ? AND {member} AND m.rid > 0 AND s.p = ? AND s.ttype = 'Patient' "
            f"AND {' AND '.join(conds)}")


# Where the user or their organisation may be named, each is its own SELECT of the UNION: in one SELECT their
# OR would keep the reference index from being searched by target, and every registration (or referral) would be
# read to find theirs.
def _gp(viewer: Viewer, args: list) -> str:
    parts = []
    for who in (_people, _org):
        args.append(param_key("Patient", "general-practitioner"))
        parts.append("SELECT g_p.id FROM idx_ref g JOIN resources g_p ON g_p.rid = g.rid AND g_p.deleted = 0 "
                     f"WHERE g.p = ? AND {who('g', viewer, args)}")
    return " UNION ".join(parts)


def _care_team(viewer: Viewer, args: list) -> str:
    return _recorded("CareTeam", "subject", ("active",), "participant", _people, viewer, args)


def _encounter(viewer: Viewer, args: list) -> str:
    return _recorded("Encounter", "subject", OPEN_ENCOUNTER, "service-provider", _org, viewer, args,
                     by_status=True)


def _episode(viewer: Viewer, args: list) -> str:
    return _recorded("EpisodeOfCare", "patient", ("active",), "organization", _org, viewer, args)


def _referral(viewer: Viewer, args: list) -> str:
    return " UNION ".join(_recorded("ServiceRequest", "subject", ("active",), "performer", who, viewer, args,
                                    extra=("intent", ORDERS)) for who in (_people, _org))


KINDS: dict[str, Callable[[Viewer, list], str]] = {
    "gp-registration": _gp, "care-team": _care_team, "encounter": _encounter, "episode-of-care": _episode,
    "referral": _referral,
}


def related_sql(viewer: Viewer, args: list) -> str:
    """A SELECT of the ids of the patients the viewer has a relationship of one of `viewer.kinds` with."""
    kinds = [KINDS[k] for k in sorted(viewer.kinds) if k in KINDS]
    if not kinds:
        return "SELECT NULL WHERE 1 = 0"
    org = f"WITH {_my_org(viewer, args)} " if viewer.org else ""
    return org + " UNION ".join(kind(viewer, args) for kind in kinds)


def within_relations_sql(type_: str | None, viewer: Viewer, links: str, args: list, alias: str = "r") -> str:
    """A condition true only for rows (of `type_`, or any type) that belong to no patient outside the viewer's
    relationships: a Patient they are related to, anything in such a patient's compartment (`links`: the
    compartment's index keys as an SQL list), and whatever belongs to no patient at all (a Practitioner).

    For other types the test runs row by row (fenced: the set of related patients is computed once, a hash,
    and each row's few patient references are looked up in it). Left to itself PostgreSQL makes it an anti
    join against every patient reference of the type's compartment parameters, whose cost grows with the
    database rather than with the rows the search matches."""
    parts = []
    if type_ in (None, "Patient"):
        own = f"{alias}.id IN ({related_sql(viewer, args)})"
        parts.append(own if type_ == "Patient" else f"({alias}.type <> 'Patient' OR {own})")
    if links and type_ != "Patient":
        parts.append(f"NOT EXISTS (SELECT 1 FROM idx_ref c WHERE c.rid = {alias}.rid AND c.ttype = 'Patient' "
                     f"AND c.p IN ({links}) AND c.tid NOT IN ({related_sql(viewer, args)}){FENCE})")
    return " AND ".join(parts) if parts else "1 = 1"
