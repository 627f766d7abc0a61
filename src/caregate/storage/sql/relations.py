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


def _org(alias: str, viewer: Viewer, args: list) -> str:
    """The reference row `alias` points at the user's organisation, named by id or by its ODS code."""
    if not viewer.org:
        return "1 = 0"
    args += [viewer.org, param_key("Organization", "identifier"), ODS_ORGANIZATION, viewer.org]
    # one IN over both spellings, so the reference index is searched by target rather than scanned
    return (f"({alias}.ttype = 'Organization' AND {alias}.tid IN (SELECT CAST(? AS TEXT) UNION ALL SELECT o.id "
            "FROM resources o JOIN idx_token oi ON oi.rid = o.rid WHERE o.type = 'Organization' AND o.deleted = 0 "
            "AND oi.p = ? AND oi.system = ? AND oi.code = ?))")


def _either(alias: str, viewer: Viewer, args: list) -> str:
    return f"({_people(alias, viewer, args)} OR {_org(alias, viewer, args)})"


def _recorded(type_: str, patient_param: str, status: tuple[str, ...], actor_param: str,
              who: Callable[[str, Viewer, list], str], viewer: Viewer, args: list,
              extra: tuple[str, tuple[str, ...]] | None = None, by_status: bool = False) -> str:
    """Patients named by `patient_param` of a live `type_` whose status is one of `status` and whose
    `actor_param` reference matches `who`. The lookup starts from the user's (or organisation's) references,
    which are few, rather than from every resource of the type; or, `by_status`, from the resources in one of
    those states, when they are the fewer (open encounters, beside all an organisation has had)."""
    if by_status:
        args += [param_key(type_, "status"), *status, param_key(type_, patient_param), param_key(type_, actor_param)]
        member = who("m", viewer, args)
        return (f"SELECT s.tid FROM idx_token k JOIN idx_ref s ON s.rid = k.rid JOIN resources sr ON sr.rid = k.rid "
                f"AND sr.deleted = 0 WHERE k.p = ? AND k.code IN ({', '.join('?' * len(status))}) AND s.p = ? "
                f"AND s.ttype = 'Patient' AND EXISTS (SELECT 1 FROM idx_ref m WHERE m.rid = k.rid AND m.p = ? "
                f"AND {member})")
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
    return (f"SELECT s.tid FROM idx_ref m JOIN idx_ref s ON s.rid = m.rid JOIN resources sr ON sr.rid = m.rid "
            f"AND sr.deleted = 0 WHERE m.p = ? AND {member} AND s.p = ? AND s.ttype = 'Patient' "
            f"AND {' AND '.join(conds)}")


def _gp(viewer: Viewer, args: list) -> str:
    args.append(param_key("Patient", "general-practitioner"))
    return ("SELECT g_p.id FROM idx_ref g JOIN resources g_p ON g_p.rid = g.rid AND g_p.deleted = 0 "
            f"WHERE g.p = ? AND {_either('g', viewer, args)}")


def _care_team(viewer: Viewer, args: list) -> str:
    return _recorded("CareTeam", "subject", ("active",), "participant", _people, viewer, args)


def _encounter(viewer: Viewer, args: list) -> str:
    return _recorded("Encounter", "subject", OPEN_ENCOUNTER, "service-provider", _org, viewer, args,
                     by_status=True)


def _episode(viewer: Viewer, args: list) -> str:
    return _recorded("EpisodeOfCare", "patient", ("active",), "organization", _org, viewer, args)


def _referral(viewer: Viewer, args: list) -> str:
    return _recorded("ServiceRequest", "subject", ("active",), "performer", _either, viewer, args,
                     extra=("intent", ORDERS))


KINDS: dict[str, Callable[[Viewer, list], str]] = {
    "gp-registration": _gp, "care-team": _care_team, "encounter": _encounter, "episode-of-care": _episode,
    "referral": _referral,
}


def related_sql(viewer: Viewer, args: list) -> str:
    """A SELECT of the ids of the patients the viewer has a relationship of one of `viewer.kinds` with."""
    parts = [KINDS[k](viewer, args) for k in sorted(viewer.kinds) if k in KINDS]
    return " UNION ".join(parts) if parts else "SELECT NULL WHERE 1 = 0"


def within_relations_sql(type_: str | None, viewer: Viewer, links: str, args: list, alias: str = "r") -> str:
    """A condition true only for rows (of `type_`, or any type) that belong to no patient outside the viewer's
    relationships: a Patient they are related to, anything in such a patient's compartment (`links`: the
    compartment's index keys as an SQL list), and whatever belongs to no patient at all (a Practitioner)."""
    parts = []
    if type_ in (None, "Patient"):
        own = f"{alias}.id IN ({related_sql(viewer, args)})"
        parts.append(own if type_ == "Patient" else f"({alias}.type <> 'Patient' OR {own})")
    if links and type_ != "Patient":
        parts.append(f"NOT EXISTS (SELECT 1 FROM idx_ref c WHERE c.rid = {alias}.rid AND c.ttype = 'Patient' "
                     f"AND c.p IN ({links}) AND c.tid NOT IN ({related_sql(viewer, args)}))")
    return " AND ".join(parts) if parts else "1 = 1"
