"""SNOMED CT identifiers: is a code shaped like a concept id? (SNOMED CT Technical Implementation Guide, SCTID).

An SCTID is 6 to 18 digits without a leading zero; its last digit is a Verhoeff check digit; the two digits
before it are the partition identifier, 00 (short form) or 10 (long form, with a namespace) for concepts.
"""

from __future__ import annotations

SYSTEM = "http://snomed.info/sct"

# The dihedral group D5 multiplication table and the position permutation of the Verhoeff scheme.
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4), (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7), (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_ok(digits: str) -> bool:
    check = 0
    for i, ch in enumerate(reversed(digits)):
        check = _D[check][_P[i % 8][int(ch)]]
    return check == 0


def concept_id_problem(code: str) -> str | None:
    """Why `code` cannot be a SNOMED CT concept id, or None when it can."""
    if not code.isascii() or not code.isdigit():
        return f"{code!r} is not all digits"
    if not 6 <= len(code) <= 18 or code[0] == "0":
        return f"{code!r} is not 6 to 18 digits without a leading zero"
    if code[-3:-1] not in ("00", "10"):
        return f"{code!r} has partition {code[-3:-1]}, not a concept's (00 or 10)"
    if not verhoeff_ok(code):
        return f"{code!r} fails its Verhoeff check digit"
    return None
