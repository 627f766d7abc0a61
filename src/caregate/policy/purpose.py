"""Purpose of use: why a request is made, asserted per request, and break-glass.

Codes are those of the v3 PurposeOfUse value set (the `_PurposeOfUse` concepts of
http://terminology.hl7.org/CodeSystem/v3-ActReason). A request names one with the `X-Purpose-Of-Use` header or
the `purpose_of_use` claim of its token; when neither does, the purpose is direct care (TREAT). An unknown code
is refused rather than read as TREAT, so a mistyped research purpose never passes as direct care. Emergency
treatment (ETREAT, "break-glass") needs a stated reason, which the audit keeps with the purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT = "TREAT"
BREAK_GLASS = "ETREAT"
SECONDARY = frozenset({"HRESCH", "HOPERAT"})  # the uses a National Data Opt-out refuses
DIRECT_CARE = frozenset({"TREAT", "CLINTRL", "COC", "ETREAT", "BTG", "ERTREAT", "POPHLTH"})  # TREAT and below
RESEARCHER = "researcher"  # the local role for secondary use, which has no direct-care access

PURPOSES = frozenset({
    "TREAT", "CLINTRL", "COC", "ETREAT", "BTG", "ERTREAT", "POPHLTH",
    "HMARKT", "HPAYMT", "CLMATTCH", "COVAUTH", "COVERAGE", "ELIGDTRM", "ELIGVER", "ENROLLM", "MILDCRG", "REMITADV",
    "HOPERAT", "CAREMGT", "DONAT", "FRAUD", "GOV", "HACCRED", "HCOMPL", "HDECD", "HDIRECT", "HDM", "HLEGAL",
    "HOUTCOMS", "HPRGRP", "HQUALIMP", "HSYSADMIN", "LABELING", "METAMGT", "MEMADMIN", "MILCDM", "PATADMIN",
    "PATSFTY", "PERFMSR", "RECORDMGT", "SYSDEV", "HTEST", "TRAIN",
    "HRESCH", "BIORCH", "CLINTRCH", "CLINTRCHNPC", "CLINTRCHPC", "PRECLINTRCH", "DSRCH", "POARCH", "TRANSRCH",
    "PATRQT", "FAMRQT", "PWATRNY", "SUPNWK", "PUBHLTH", "DISASTER", "THREAT",
})
MAX_REASON = 500


class PurposeError(ValueError):
    """The asserted purpose cannot be accepted; `where` names the header or claim at fault."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(message)
        self.where = where


@dataclass(frozen=True, slots=True)
class Purpose:
    """The purpose a request is made for; `reason` is the break-glass justification (ETREAT only)."""

    code: str = DEFAULT
    reason: str | None = None

    @property
    def break_glass(self) -> bool:
        return self.code == BREAK_GLASS


def asserted(header: str | None, reason: str | None, claim: str | None = None,
             claim_reason: str | None = None) -> Purpose:
    """The purpose from the request header or, failing that, the token claim; PurposeError when unacceptable.

    A header that contradicts the token's claim is refused: a token issued for one purpose is not a pass for
    another.
    """
    code = (header or "").strip() or None
    where = "X-Purpose-Of-Use"
    if claim:
        if code is not None and code != claim:
            raise PurposeError(f"X-Purpose-Of-Use '{code}' contradicts the token's purpose_of_use '{claim}'.", where)
        code, where = claim, "purpose_of_use"
    code = code or DEFAULT
    if code not in PURPOSES:
        shown = code if len(code) <= 40 and code.isprintable() else code[:40].encode("unicode_escape").decode()
        raise PurposeError(f"'{shown}' is not a v3 PurposeOfUse code (e.g. TREAT, ETREAT, HRESCH, HOPERAT, "
                           "PUBHLTH).", where)
    text = (reason or "").strip() or (claim_reason or "").strip() or None
    if code != BREAK_GLASS:
        return Purpose(code)
    if text is None:
        raise PurposeError("Break-glass (purpose ETREAT) needs the reason in X-Break-Glass-Reason.",
                           "X-Break-Glass-Reason")
    if len(text) > MAX_REASON or not text.isprintable():
        raise PurposeError(f"X-Break-Glass-Reason must be printable text of at most {MAX_REASON} characters.",
                           "X-Break-Glass-Reason")
    return Purpose(code, text)
