"""Withholding resources by security label, as SQL (https://hl7.org/fhir/R4/security-labels.html).

A role may not see resources carrying some `meta.security` labels (policy/rules.py). The condition reads the
`_security` token index of the row itself, and joins the search's reach beside compartment confinement and the
opt-out, so totals, paging, `_include`, `_has` and chains never count or reach a withheld resource.
"""

from __future__ import annotations

from caregate.storage.sql.keys import param_key


def outside_labels_sql(labels: tuple[tuple[str, ...], ...], args: list, alias: str = "r") -> str:
    """A condition true only for rows carrying none of `labels` in meta.security: each is (system, code), or
    (system, code, type...) for a label that rows of those types may carry (they are redacted instead)."""
    plain = [(s, c) for s, c, *types in labels if not types]
    parts = [_none_of(plain, args, alias)] if plain else []
    for system, code, *types in labels:
        if types:
            args += types
            parts.append(f"({alias}.type IN ({', '.join('?' * len(types))}) OR "
                         f"{_none_of([(system, code)], args, alias)})")
    return " AND ".join(parts) or "1 = 1"


def _none_of(labels: list[tuple[str, str]], args: list, alias: str) -> str:
    args.append(param_key("Resource", "_security"))
    for system, code in labels:
        args += [system, code]
    either = " OR ".join("(sl.system = ? AND sl.code = ?)" for _ in labels)
    return f"NOT EXISTS (SELECT 1 FROM idx_token sl WHERE sl.rid = {alias}.rid AND sl.p = ? AND ({either}))"
