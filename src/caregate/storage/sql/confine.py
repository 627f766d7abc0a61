"""Confinement to one patient's compartment, as SQL (https://hl7.org/fhir/R4/compartmentdefinition-patient.html).

A `patient/` SMART scope reaches only the launch patient's compartment. The restriction is a condition on a
resource row (alias `r`) added inside the one search query, so paging, counts, chains, `_has` and includes all
see the same restricted world and nothing outside leaks, not even as a total. The Patient itself is in its own
compartment by id; every other type through the reference parameters the CompartmentDefinition names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from caregate.fhir.definitions import patient_compartment
from caregate.search.viewer import Viewer
from caregate.storage.sql.consent import outside_denials_sql
from caregate.storage.sql.keys import param_key
from caregate.storage.sql.relations import within_relations_sql
from caregate.storage.sql.security_labels import outside_labels_sql

_SAFE = re.compile(r"^[A-Za-z0-9._\-]+$")


@cache
def _keys(type_: str | None) -> str:
    """The index keys linking `type_` (any type when None) to a Patient, as an SQL literal list."""
    keys = [param_key(t, code) for t, codes in patient_compartment().items() if t != "Patient"
            and (type_ is None or t == type_) for code in codes]
    assert all(_SAFE.match(k) for k in keys)
    return ", ".join(f"'{k}'" for k in sorted(set(keys)))


def confine_sql(type_: str | None, patient_id: str, args: list, alias: str = "r") -> str:
    """A condition true only for rows (of `type_`, or of any type) in Patient/`patient_id`'s compartment."""
    own = f"({alias}.type = 'Patient' AND {alias}.id = ?)"
    if type_ == "Patient":
        args.append(patient_id)
        return own
    keys = _keys(type_)
    linked = (f"{alias}.rid IN (SELECT c.rid FROM idx_ref c WHERE c.ttype = 'Patient' AND c.tid = ? "
              f"AND c.p IN ({keys}))") if keys else "1 = 0"
    if type_ is not None:
        if keys:
            args.append(patient_id)
        return linked
    args.append(patient_id)
    if keys:
        args.append(patient_id)
    return f"({own} OR {linked})"


OPT_OUT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"


@dataclass(frozen=True, slots=True)
class Reach:
    """What a query may reach: one patient's compartment (`patient`), and/or only patients who have not
    refused `refused`, a purpose of use (a National-Data-Opt-out-style Consent, see `refusal_sql`), and/or only
    patients the member of staff `viewer` has a relationship with (see `relations`)."""

    patient: str | None = None
    refused: str | None = None
    viewer: Viewer | None = None
    hidden: tuple[tuple[str, ...], ...] = ()  # security labels whose resources are withheld (security_labels)


def reach_of(patient: str | None, refused: str | None, viewer: Viewer | None = None,
             hidden: tuple[tuple[str, ...], ...] = ()) -> Reach | None:
    if viewer is not None and not viewer.kinds and not viewer.consent:
        viewer = None
    if patient is None and refused is None and viewer is None and not hidden:
        return None
    return Reach(patient, refused, viewer, hidden)


def reach_sql(type_: str | None, reach: Reach, args: list, alias: str = "r") -> str:
    """A condition true only for rows within `reach` (see `confine_sql` and `outside_refusals_sql`)."""
    parts = []
    if reach.patient is not None:
        parts.append(confine_sql(type_, reach.patient, args, alias))
    if reach.refused is not None:
        parts.append(outside_refusals_sql(type_, reach.refused, args, alias))
    if reach.viewer is not None and reach.viewer.kinds:
        parts.append(within_relations_sql(type_, reach.viewer, _keys(type_) if type_ != "Patient" else "", args,
                                          alias))
    if reach.viewer is not None and reach.viewer.consent:
        parts.append(outside_denials_sql(type_, reach.viewer, reach.viewer.now_us,
                                         _keys(type_) if type_ != "Patient" else "", args, alias))
    if reach.hidden:
        parts.append(outside_labels_sql(reach.hidden, args, alias))
    return " AND ".join(parts)


def refusal_sql(patient_expr: str, purpose: str, args: list) -> str:
    """True when the patient `patient_expr` (an SQL expression) has an active Consent of scope `research`
    (consentscope) refusing `purpose`: a National Data Opt-out names HRESCH and HOPERAT. It is read from the
    Consent's index rows, so a Consent written or withdrawn counts from the next query on."""
    args += [param_key("Consent", "patient"), param_key("Consent", "status"), param_key("Consent", "scope"),
             OPT_OUT_SCOPE, param_key("Consent", "purpose"), purpose]
    return ("EXISTS (SELECT 1 FROM idx_ref o JOIN resources oc ON oc.rid = o.rid AND oc.deleted = 0 "
            f"WHERE o.p = ? AND o.ttype = 'Patient' AND o.tid = {patient_expr} "
            "AND EXISTS (SELECT 1 FROM idx_token os WHERE os.rid = o.rid AND os.p = ? AND os.code = 'active') "
            "AND EXISTS (SELECT 1 FROM idx_token oq WHERE oq.rid = o.rid AND oq.p = ? AND oq.system = ? "
            "AND oq.code = 'research') "
            "AND EXISTS (SELECT 1 FROM idx_token op WHERE op.rid = o.rid AND op.p = ? AND op.code = ?))")


def outside_refusals_sql(type_: str | None, purpose: str, args: list, alias: str = "r") -> str:
    """A condition true only for rows (of `type_`, or any type) belonging to no patient who refused `purpose`:
    neither the Patient itself nor anything in such a patient's compartment."""
    parts = []
    if type_ in (None, "Patient"):
        own = refusal_sql(f"{alias}.id", purpose, args)
        parts.append(f"NOT {own}" if type_ == "Patient" else f"NOT ({alias}.type = 'Patient' AND {own})")
    keys = _keys(type_) if type_ != "Patient" else ""
    if keys:
        inner = refusal_sql("c.tid", purpose, args)
        parts.append(f"NOT EXISTS (SELECT 1 FROM idx_ref c WHERE c.rid = {alias}.rid AND c.ttype = 'Patient' "
                     f"AND c.p IN ({keys}) AND {inner})")
    return " AND ".join(parts) if parts else "1 = 1"
