"""Identity assurance, in the terms NHS login uses: an identity proofing level (P0 none, P5 basic, P9 strong)
and a vector of trust (RFC 8485 `vot`, e.g. `P9.Cp.Cd`: P9 proofing, signed in with a password and a one-time
code). A server may require a minimum proofing level before a patient reaches their record.
"""

from __future__ import annotations

PROOFING_RANK = {"P0": 0, "P5": 5, "P9": 9}
_COMPONENT = {"pwd": "Cp", "otp": "Cd", "hwk": "Ck", "mfa": "Cm"}  # RFC 8176 method -> NHS login credential


def vector_of_trust(proofing: str, amr: tuple[str, ...] | list[str]) -> str:
    """The vot a sign-in earned: its proofing component, then one credential component per method used."""
    components = [proofing, *dict.fromkeys(_COMPONENT[m] for m in amr if m in _COMPONENT)]
    return ".".join(components)


def authentication_level(amr: tuple[str, ...] | list[str]) -> str:
    """The authentication assurance level (NIST SP 800-63B) a sign-in's methods reach: 2 with a second factor
    beside the password (or a multi-factor method), else 1. Level 3 needs a hardware authenticator whose
    provider says so (CIS2 smartcards); caregate's own sign-in never claims it."""
    methods = set(amr)
    return "2" if "mfa" in methods or ("pwd" in methods and methods & {"otp", "hwk", "sms"}) else "1"


def meets(level: object, minimum: str) -> bool:
    """Whether a proofing level (a claim's value, perhaps absent or malformed) reaches the minimum."""
    if not minimum:
        return True
    return isinstance(level, str) and PROOFING_RANK.get(level, -1) >= PROOFING_RANK[minimum]


def minimum_proofing(value: str) -> str:
    """A configured minimum proofing level, checked when the server starts ("" means none is required)."""
    value = value.strip().upper()
    if value and value not in PROOFING_RANK:
        raise ValueError(f"The minimum proofing level is one of {', '.join(PROOFING_RANK)}, not {value!r}.")
    return "" if value == "P0" else value
