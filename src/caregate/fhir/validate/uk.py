"""UK identifier rules applied wherever the identifier systems appear, whatever the profile.

- NHS number (`https://fhir.nhs.uk/Id/nhs-number`): ten digits whose last is the Modulus 11 check digit
  (NHS Data Model and Dictionary; see `caregate.fhir.nhs_number`).
- ODS codes (`https://fhir.nhs.uk/Id/ods-organization-code`, `.../ods-site-code`): upper-case letters and
  digits only (Organisation Data Service code formats).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from caregate.fhir import nhs_number

__all__ = ["check_identifier"]

Report = Callable[[str, str, str, str], None]

ODS_SYSTEMS = frozenset({"https://fhir.nhs.uk/Id/ods-organization-code", "https://fhir.nhs.uk/Id/ods-site-code"})
_ODS = re.compile(r"[A-Z0-9]+")


def check_identifier(identifier: dict, loc: str, report: Report) -> None:
    system = identifier.get("system")
    value = identifier.get("value")
    if not isinstance(value, str) or not isinstance(system, str):
        return
    if system == nhs_number.SYSTEM:
        if not (len(value) == 10 and value.isdigit()):
            report("error", "value", f"'{value}' is not an NHS number: it must be exactly ten digits.", loc + ".value")
        elif not nhs_number.is_valid(value):
            report("error", "value", f"'{value}' is not a valid NHS number: the Modulus 11 check digit is wrong.",
                   loc + ".value")
    elif system in ODS_SYSTEMS and not _ODS.fullmatch(value):
        report("error", "value", f"'{value}' is not a valid ODS code: only upper-case letters and digits are "
               "allowed.", loc + ".value")
