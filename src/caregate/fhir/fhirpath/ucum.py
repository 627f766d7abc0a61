"""Just enough UCUM (https://ucum.org/ucum) to compare and convert FHIRPath quantities.

FHIRPath compares quantities "with the same dimension" by converting units (N1 §6.1.1, §6.2, and
`toQuantity(unit)`, §5.5.9), and FHIR Quantities carry UCUM codes (https://hl7.org/fhir/R4/datatypes.html
#Quantity). A unit expression (`mg/dL`, `kg.m/s2`, `[in_i]`, `10*3/uL`, `mm[Hg]`) is parsed into a factor
and a vector of base-unit exponents, left to right as UCUM defines (`.` multiplies, `/` divides, a
trailing integer is an exponent, `{...}` annotations count as 1). The table below covers the SI units, the
common clinical and customary units and the arbitrary units (each its own dimension); temperatures on
scales with an offset (`Cel`, `[degF]`) convert only as simple units.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal
from functools import lru_cache
from typing import NamedTuple

__all__ = ["Unit", "convert", "parse_unit"]

_CTX = Context(prec=40)
_BASE = ("m", "s", "g", "rad", "K", "C", "cd")
_PREFIXES = {
    "Y": "1e24",
    "Z": "1e21",
    "E": "1e18",
    "P": "1e15",
    "T": "1e12",
    "G": "1e9",
    "M": "1e6",
    "k": "1e3",
    "h": "1e2",
    "da": "1e1",
    "d": "1e-1",
    "c": "1e-2",
    "m": "1e-3",
    "u": "1e-6",
    "n": "1e-9",
    "p": "1e-12",
    "f": "1e-15",
    "a": "1e-18",
    "z": "1e-21",
    "y": "1e-24",
    "Ki": "1024",
    "Mi": "1048576",
    "Gi": "1073741824",
}
# code, magnitude, definition, metric (takes prefixes): written from the UCUM essence's unit list.
_TABLE = """
mol 6.0221367e23 1 * | sr 1 rad2 * | Hz 1 s-1 * | N 1 kg.m/s2 * | Pa 1 N/m2 * | J 1 N.m * | W 1 J/s *
A 1 C/s * | V 1 J/C * | F 1 C/V * | Ohm 1 V/A * | S 1 Ohm-1 * | Wb 1 V.s * | T 1 Wb/m2 * | H 1 Wb/A *
lm 1 cd.sr * | lx 1 lm/m2 * | Bq 1 s-1 * | Gy 1 J/kg * | Sv 1 J/kg * | deg 0.01745329251994329576923690768 rad -
gon 0.9 deg - | ' 1 deg/60 - | '' 1 '/60 - | l 1 dm3 * | L 1 l * | ar 100 m2 * | min 60 s - | h 60 min -
d 24 h - | a_t 365.24219 d - | a_j 365.25 d - | a_g 365.2425 d - | a 1 a_j - | wk 7 d - | mo_s 29.53059 d -
mo_j 1 a_j/12 - | mo_g 1 a_g/12 - | mo 1 mo_j - | t 1000 kg * | bar 100000 Pa * | u 1.6605402e-24 g *
eV 1 [e].V * | AU 149597.870691 Mm - | pc 30856780000000000 m * | [c] 299792458 m/s * | [h] 6.6260755e-34 J.s *
[k] 1.380658e-23 J/K * | [eps_0] 8.854187817e-12 F/m * | [mu_0] 1.256637061435917295385057353311801e-6 N/A2 *
[e] 1.60217733e-19 C * | [m_e] 9.1093897e-28 g * | [m_p] 1.6726231e-24 g * | [G] 6.67259e-11 m3.kg-1.s-2 *
[g] 9.80665 m/s2 * | atm 101325 Pa - | [ly] 1 [c].a_j * | gf 1 g.[g] * | [lbf_av] 1 [lb_av].[g] - | Ky 1 cm-1 *
Gal 1 cm/s2 * | dyn 1 g.cm/s2 * | erg 1 dyn.cm * | P 1 dyn.s/cm2 * | St 1 cm2/s * | Mx 1e-8 Wb * | G 1e-4 T *
Oe 79.57747154594766788444188168625718 A/m * | Gb 1 Oe.cm * | sb 1 cd/cm2 * | ph 1e-4 lx * | Ci 3.7e10 Bq *
R 2.58e-4 C/kg * | RAD 100 erg/g * | REM 1 RAD * | [in_i] 2.54 cm - | [ft_i] 12 [in_i] - | [yd_i] 3 [ft_i] -
[mi_i] 5280 [ft_i] - | [fth_i] 6 [ft_i] - | [nmi_i] 1852 m - | [kn_i] 1 [nmi_i]/h - | [sin_i] 1 [in_i]2 -
[sft_i] 1 [ft_i]2 - | [syd_i] 1 [yd_i]2 - | [cin_i] 1 [in_i]3 - | [cft_i] 1 [ft_i]3 - | [cyd_i] 1 [yd_i]3 -
[bf_i] 144 [in_i]3 - | [cr_i] 128 [ft_i]3 - | [mil_i] 1e-3 [in_i] - | [hd_i] 4 [in_i] - | [ft_us] 1200 m/3937 -
[yd_us] 3 [ft_us] - | [in_us] 1 [ft_us]/12 - | [rd_us] 16.5 [ft_us] - | [ch_us] 4 [rd_us] - | [fur_us] 40 [rd_us] -
[mi_us] 8 [fur_us] - | [acr_us] 160 [rd_us]2 - | [gal_us] 231 [in_i]3 - | [bbl_us] 42 [gal_us] -
[qt_us] 1 [gal_us]/4 - | [pt_us] 1 [qt_us]/2 - | [gil_us] 1 [pt_us]/4 - | [foz_us] 1 [gil_us]/4 -
[fdr_us] 1 [foz_us]/8 - | [min_us] 1 [fdr_us]/60 - | [crd_us] 128 [ft_i]3 - | [bu_us] 2150.42 [in_i]3 -
[pk_us] 1 [bu_us]/4 - | [dqt_us] 1 [pk_us]/8 - | [dpt_us] 1 [dqt_us]/2 - | [tbs_us] 1 [foz_us]/2 -
[tsp_us] 1 [tbs_us]/3 - | [cup_us] 16 [tbs_us] - | [foz_m] 30 mL - | [cup_m] 240 mL - | [tsp_m] 5 mL -
[tbs_m] 15 mL - | [gal_br] 4.54609 l - | [pk_br] 2 [gal_br] - | [bu_br] 4 [pk_br] - | [qt_br] 1 [gal_br]/4 -
[pt_br] 1 [qt_br]/2 - | [gil_br] 1 [pt_br]/4 - | [foz_br] 1 [gil_br]/5 - | [fdr_br] 1 [foz_br]/8 -
[min_br] 1 [fdr_br]/60 - | [gr] 64.79891 mg - | [lb_av] 7000 [gr] - | [oz_av] 1 [lb_av]/16 - | [dr_av] 1 [oz_av]/16 -
[scwt_av] 100 [lb_av] - | [lcwt_av] 112 [lb_av] - | [ston_av] 20 [scwt_av] - | [lton_av] 20 [lcwt_av] -
[stone_av] 14 [lb_av] - | [pwt_tr] 24 [gr] - | [oz_tr] 20 [pwt_tr] - | [lb_tr] 12 [oz_tr] - | [sc_ap] 20 [gr] -
[dr_ap] 3 [sc_ap] - | [oz_ap] 8 [dr_ap] - | [lb_ap] 12 [oz_ap] - | [oz_m] 28 g - | [lne] 1 [in_i]/12 -
[pnt] 1 [lne]/6 - | [pca] 12 [pnt] - | [pi] 3.141592653589793238462643383279503 1 - | % 1e-2 1 -
[ppth] 1e-3 1 - | [ppm] 1e-6 1 - | [ppb] 1e-9 1 - | [pptr] 1e-12 1 - | m[Hg] 133.322 kPa * | m[H2O] 9.80665 kPa *
[in_i'Hg] 1 m[Hg].[in_i]/m - | [in_i'H2O] 1 m[H2O].[in_i]/m - | [psi] 1 [lbf_av]/[in_i]2 -
[degR] 0.5555555555555555555555555555555556 K - | cal_[15] 4.18580 J * | cal_[20] 4.18190 J * | cal_m 4.19002 J *
cal_IT 4.1868 J * | cal_th 4.184 J * | cal 1 cal_th * | [Cal] 1 kcal_th - | [Btu_IT] 1.05505585262 kJ -
[Btu_th] 1.054350 kJ - | [Btu] 1 [Btu_th] - | [HP] 550 [ft_i].[lbf_av]/s - | tex 1 g/km * | [den] 1 g/9/km -
eq 1 mol * | osm 1 mol * | g% 1 g/dL * | kat 1 mol/s * | U 1 umol/min * | [drp] 1 mL/20 - | mho 1 S * | st 1 m3 *
Ao 0.1 nm - | b 100 fm2 - | att 1 kgf/cm2 - | [mesh_i] 1 /[in_i] - | [Ch] 1 mm/3 - | bit 1 1 * | By 8 bit *
Bd 1 /s * | [IU] 1 [iU] * | [HPF] 1 1 - | [LPF] 100 1 -
"""
_ARBITRARY = [
    "[iU]",
    "[arb'U]",
    "[USP'U]",
    "[GPL'U]",
    "[MPL'U]",
    "[APL'U]",
    "[beth'U]",
    "[anti'Xa'U]",
    "[todd'U]",
    "[dye'U]",
    "[smgy'U]",
    "[bdsk'U]",
    "[ka'U]",
    "[knk'U]",
    "[mclg'U]",
    "[tb'U]",
    "[CCID_50]",
    "[TCID_50]",
    "[EID_50]",
    "[PFU]",
    "[FFU]",
    "[CFU]",
    "[IR]",
    "[BAU]",
    "[AU]",
    "[Amb'a'1'U]",
    "[PNU]",
    "[Lf]",
    "[D'ag'U]",
    "[FEU]",
    "[ELU]",
    "[EU]",
]
_METRIC_ARBITRARY = frozenset(("[iU]", "[IU]"))
_DEFINITIONS: dict[str, tuple[Decimal, str]] = {}
_METRIC = set(_BASE) | _METRIC_ARBITRARY
for _entry in _TABLE.replace("\n", "|").split("|"):
    if _entry.strip():
        _code, _magnitude, _definition, _flag = _entry.split()
        _DEFINITIONS[_code] = (Decimal(_magnitude), _definition)
        if _flag == "*":
            _METRIC.add(_code)
# Scales with an offset: kelvin = (value + offset) * numerator / denominator.
_SPECIAL = {"Cel": (Decimal(1), Decimal(1), Decimal("273.15")), "[degF]": (Decimal(5), Decimal(9), Decimal("459.67"))}
_EXPONENT_RE = re.compile(r"(.*?)([+-]?\d+)")


class Unit(NamedTuple):
    """A parsed unit: multiply a value by `factor` to express it in the base units of `dims`."""

    factor: Decimal
    dims: tuple[tuple[str, int], ...]


_ONE = Unit(Decimal(1), ())


def _mul(a: Unit, b: Unit, power: int = 1) -> Unit:
    dims = dict(a.dims)
    for base, exp in b.dims:
        dims[base] = dims.get(base, 0) + exp * power
    factor = _CTX.multiply(a.factor, _CTX.power(b.factor, power))
    return Unit(factor, tuple(sorted((k, v) for k, v in dims.items() if v)))


@lru_cache(maxsize=512)
def _atom(code: str) -> Unit | None:
    if code in _BASE:
        return Unit(Decimal(1), ((code, 1),))
    if code in _ARBITRARY:
        return Unit(Decimal(1), ((code, 1),))
    if code in _SPECIAL:
        numerator, denominator, _ = _SPECIAL[code]
        return Unit(_CTX.divide(numerator, denominator), (("K", 1),))
    if code in _DEFINITIONS:
        magnitude, definition = _DEFINITIONS[code]
        inner = parse_unit(definition)
        return None if inner is None else Unit(_CTX.multiply(magnitude, inner.factor), inner.dims)
    return None


def _symbol(code: str) -> Unit | None:
    """An atom, optionally prefixed (`mg`, `kPa`, `mm[Hg]`); exact atoms win over prefix readings."""
    unit = _atom(code)
    if unit is not None:
        return unit
    for prefix in sorted(_PREFIXES, key=len, reverse=True):
        rest = code[len(prefix) :]
        if code.startswith(prefix) and rest in _METRIC:
            atom = _atom(rest)
            if atom is not None:
                return Unit(_CTX.multiply(Decimal(_PREFIXES[prefix]), atom.factor), atom.dims)
    return None


class _Parser:
    """Recursive descent over a UCUM expression: term := ['/'] component (('.'|'/') component)*."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def term(self) -> Unit | None:
        result = _ONE
        op = "."
        if self.peek() == "/":
            self.i += 1
            op = "/"
        while True:
            comp = self.component()
            if comp is None:
                return None
            result = _mul(result, comp, 1 if op == "." else -1)
            nxt = self.peek()
            if nxt not in (".", "/"):
                return result
            op = nxt
            self.i += 1

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def annotation(self) -> bool:
        if self.peek() != "{":
            return False
        end = self.text.find("}", self.i)
        if end < 0:
            raise ValueError("unterminated annotation")
        self.i = end + 1
        return True

    def component(self) -> Unit | None:
        if self.annotation():
            return _ONE
        if self.peek() == "(":
            self.i += 1
            inner = self.term()
            if inner is None or self.peek() != ")":
                return None
            self.i += 1
            return inner
        start = self.i
        text = self.text
        while self.i < len(text) and text[self.i] not in "./(){}":
            if text[self.i] == "[":
                end = text.find("]", self.i)
                if end < 0:
                    return None
                self.i = end + 1
            else:
                self.i += 1
        symbol = text[start : self.i]
        self.annotation()
        if not symbol:
            return None
        if symbol.isdigit():
            return Unit(Decimal(symbol), ())
        if symbol[:3] in ("10*", "10^") and re.fullmatch(r"[+-]?\d+", symbol[3:]):
            return Unit(_CTX.power(Decimal(10), int(symbol[3:])), ())
        m = _EXPONENT_RE.fullmatch(symbol)
        if m and m.group(1) and not m.group(1).endswith(("*", "^")):
            base = _symbol(m.group(1))
            return None if base is None else _mul(_ONE, base, int(m.group(2)))
        return _symbol(symbol)


@lru_cache(maxsize=1024)
def parse_unit(text: str) -> Unit | None:
    """Parse a UCUM unit expression; None when it is not one this table understands."""
    if not text or text == "1":
        return _ONE
    try:
        parser = _Parser(text)
        unit = parser.term()
    except (ValueError, ArithmeticError):
        return None
    return unit if unit is not None and parser.i == len(text) else None


def convert(value: Decimal, source: str, target: str) -> Decimal | None:
    """`value` in `source` units expressed in `target` units, or None when they are not commensurable."""
    if source == target:
        return value
    if source in _SPECIAL or target in _SPECIAL:
        kelvin = value
        if source in _SPECIAL:
            numerator, denominator, offset = _SPECIAL[source]
            kelvin = _CTX.divide(_CTX.multiply(_CTX.add(value, offset), numerator), denominator)
        elif source != "K":
            return None
        if target in _SPECIAL:
            numerator, denominator, offset = _SPECIAL[target]
            return _CTX.subtract(_CTX.divide(_CTX.multiply(kelvin, denominator), numerator), offset)
        return kelvin if target == "K" else None
    a, b = parse_unit(source), parse_unit(target)
    if a is None or b is None or a.dims != b.dims:
        return None
    return _CTX.divide(_CTX.multiply(value, a.factor), b.factor)
