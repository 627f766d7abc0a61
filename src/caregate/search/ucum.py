"""Commensurable UCUM units for quantity search (https://hl7.org/fhir/R4/search.html#quantity,
https://ucum.org/ucum): `5.4|http://unitsofmeasure.org|mg` must find `0.0054 g`.

Each unit code is reduced to a canonical form (a product of base units with integer powers, written in a
fixed order) and a factor. Only multiplicative units are covered: metric prefixes on gram, litre, metre,
mole, equivalent, pascal, second and the unit-less percent; the customary time units; mm[Hg]; and
quotients and products of those (`mg/dL`, `mmol/L`, `kg/m2`, `/min`). Anything else (Cel, [degF],
arbitrary `{annotations}` with other units) is not converted and is compared by its code as written.
"""

from __future__ import annotations

import re
from functools import cache

SYSTEM = "http://unitsofmeasure.org"

_PREFIX = {"Y": 1e24, "Z": 1e21, "E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3, "h": 1e2,
           "da": 1e1, "d": 1e-1, "c": 1e-2, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}
# atom -> (factor, {base: power})
_ATOMS: dict[str, tuple[float, dict[str, int]]] = {
    "g": (1.0, {"g": 1}),
    "L": (1e-3, {"m": 3}),
    "l": (1e-3, {"m": 3}),
    "m": (1.0, {"m": 1}),
    "mol": (1.0, {"mol": 1}),
    "eq": (1.0, {"eq": 1}),
    "Pa": (1.0, {"Pa": 1}),
    "s": (1.0, {"s": 1}),
    "min": (60.0, {"s": 1}),
    "h": (3600.0, {"s": 1}),
    "d": (86400.0, {"s": 1}),
    "wk": (604800.0, {"s": 1}),
    "mo": (2629800.0, {"s": 1}),
    "a": (31557600.0, {"s": 1}),
    "mm[Hg]": (133.322387415, {"Pa": 1}),
    "%": (0.01, {}),
    "[lb_av]": (453.59237, {"g": 1}),
    "[oz_av]": (28.349523125, {"g": 1}),
    "[in_i]": (0.0254, {"m": 1}),
    "[ft_i]": (0.3048, {"m": 1}),
    "1": (1.0, {}),
}
_PREFIXABLE = frozenset({"g", "L", "l", "m", "mol", "eq", "Pa", "s"})
_TERM = re.compile(r"^(.*?)(-?\d+)?$")


def _atom(token: str) -> tuple[float, dict[str, int]] | None:
    token = re.sub(r"\{[^}]*\}", "", token) or "1"
    match = _TERM.match(token)
    if match is None:
        return None
    body, power_text = match.group(1), match.group(2)
    power = int(power_text) if power_text else 1
    if not body:
        body, power = (power_text or "1"), 1
        if body == "1":
            return 1.0, {}
        if body.isdigit():
            return float(body), {}
    found = _ATOMS.get(body)
    if found is None:
        for prefix in sorted(_PREFIX, key=len, reverse=True):
            rest = body[len(prefix):]
            if body.startswith(prefix) and rest in _PREFIXABLE:
                base = _ATOMS[rest]
                found = (base[0] * _PREFIX[prefix], base[1])
                break
    if found is None:
        return None
    factor, dims = found
    return factor ** power, {k: v * power for k, v in dims.items()}


@cache
def canonical(code: str) -> tuple[str, float] | None:
    """(canonical unit, factor to multiply a value by) for a UCUM code, or None when not convertible."""
    if not code or " " in code:
        return None
    text = code if not code.startswith("/") else "1" + code
    parts = re.split(r"([./])", text)
    factor, dims = 1.0, {}
    sign = 1
    for part in parts:
        if part == ".":
            sign = 1
            continue
        if part == "/":
            sign = -1
            continue
        atom = _atom(part)
        if atom is None:
            return None
        f, d = atom
        factor = factor * f if sign > 0 else factor / f
        for k, v in d.items():
            dims[k] = dims.get(k, 0) + sign * v
        sign = 1
    unit = ".".join(f"{k}{v if v != 1 else ''}" for k, v in sorted(dims.items()) if v != 0) or "1"
    return unit, factor
