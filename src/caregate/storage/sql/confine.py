"""Confinement to one patient's compartment, as SQL (https://hl7.org/fhir/R4/compartmentdefinition-patient.html).

A `patient/` SMART scope reaches only the launch patient's compartment. The restriction is a condition on a
resource row (alias `r`) added inside the one search query, so paging, counts, chains, `_has` and includes all
see the same restricted world and nothing outside leaks, not even as a total. The Patient itself is in its own
compartment by id; every other type through the reference parameters the CompartmentDefinition names.
"""

from __future__ import annotations

import re
from functools import cache

from caregate.fhir.definitions import patient_compartment
from caregate.storage.sql.keys import param_key

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
