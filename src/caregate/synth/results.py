"""Laboratory and questionnaire results consistent with a synthetic patient's conditions.

Results depend on what the person has and whether it is treated yet: HbA1c sits in the diabetic
range (48 mmol/mol or more, the NICE NG28 diagnostic threshold) for people with type 2 diabetes,
cholesterol falls once a statin has been started, eGFR reflects age and chronic kidney disease, and
inflammatory markers rise during an acute infection. Values beyond a laboratory's reporting limit are
written the way UK laboratories report them, as a comparator quantity (eGFR ">90", CRP "<5").
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from caregate.synth.measures import LABS, PANELS, PHQ9, Measure
from caregate.synth.physiology import Body, creatinine_for, egfr_for, jitter, round_to
from caregate.synth.times import age_on

STATIN_CONDITIONS = frozenset({"hyperlipidaemia", "chd", "diabetes"})


@dataclass(frozen=True, slots=True)
class Context:
    """What the results depend on: the day, active conditions, treated conditions, acute illness."""

    day: date
    active: frozenset[str]
    treated: frozenset[str]
    infection: bool = False


@dataclass(frozen=True, slots=True)
class Result:
    """One reportable value."""

    measure: Measure
    value: float | int
    comparator: str | None = None


def _lipids(rng: random.Random, body: Body, ctx: Context, age: int) -> dict[str, float]:
    """A lipid profile; statins lower total cholesterol, LDL follows by the Friedewald equation."""
    if ctx.treated & STATIN_CONDITIONS:
        total = jitter(rng, 4.2, 0.6, 2.8, 6.0)
    elif "hyperlipidaemia" in ctx.active:
        total = jitter(rng, 7.0, 0.6, 6.0, 9.5)
    else:
        total = jitter(rng, 4.8 + 0.012 * max(0, age - 30), 0.8, 3.0, 7.8)
    hdl = jitter(rng, 1.55 if body.sex == "female" else 1.25, 0.28, 0.7, 2.6)
    trig = jitter(rng, 1.9 if "diabetes" in ctx.active else 1.3, 0.5, 0.4, 4.5)
    ldl = max(0.5, total - hdl - trig / 2.2)  # Friedewald equation in mmol/L
    return {"cholesterol": total, "hdl": hdl, "triglyceride": trig, "ldl": ldl}


def _values(rng: random.Random, body: Body, ctx: Context, panel: str) -> dict[str, float]:
    """Unrounded values for every member of ``panel``."""
    age = age_on(body.birth, ctx.day)
    ckd = "ckd" in ctx.active
    if panel == "lipids":
        return _lipids(rng, body, ctx, age)
    if panel == "hba1c":
        if "diabetes" in ctx.treated:
            return {"hba1c": jitter(rng, 56.0, 8.0, 44.0, 90.0)}
        if "diabetes" in ctx.active:
            return {"hba1c": jitter(rng, 66.0, 9.0, 48.0, 110.0)}
        return {"hba1c": jitter(rng, 35.0 + (4.0 if body.adult_bmi >= 30 else 0.0), 3.0, 26.0, 47.0)}
    if panel == "renal":
        egfr = egfr_for(age, ckd, rng)
        potassium_shift = 0.3 if ckd or "heart_failure" in ctx.active else 0.0
        return {
            "sodium": jitter(rng, 139.0, 2.2, 131.0, 146.0),
            "potassium": jitter(rng, 4.3 + potassium_shift, 0.35, 3.3, 5.9),
            "urea": jitter(rng, 9.5 if ckd else 5.0, 1.4, 2.0, 20.0),
            "creatinine": creatinine_for(egfr, body.sex, max(age, 18)),
            "egfr": egfr,
        }
    if panel == "fbc":
        haemoglobin = 148.0 if body.sex == "male" else 133.0
        return {
            "haemoglobin": jitter(rng, haemoglobin - (15.0 if ckd else 0.0), 10.0, 85.0, 185.0),
            "wbc": jitter(rng, 13.5, 2.5, 9.0, 25.0) if ctx.infection else jitter(rng, 6.6, 1.5, 3.2, 11.5),
            "platelets": jitter(rng, 265.0, 55.0, 120.0, 480.0),
        }
    if panel == "tsh":
        if "hypothyroidism" in ctx.treated:
            return {"tsh": jitter(rng, 2.2, 1.2, 0.3, 8.0)}
        if "hypothyroidism" in ctx.active:
            return {"tsh": jitter(rng, 9.0, 3.0, 5.0, 25.0)}
        return {"tsh": jitter(rng, 1.8, 0.8, 0.35, 4.4)}
    if panel == "lft":
        return {"alt": jitter(rng, 22.0, 8.0, 7.0, 85.0)}
    if panel == "crp":
        return {"crp": jitter(rng, 85.0, 45.0, 12.0, 320.0) if ctx.infection else 5.0}
    raise KeyError(panel)


def panel_results(rng: random.Random, body: Body, ctx: Context, panel: str) -> list[Result]:
    """The results of one laboratory request (a key of ``PANELS``), in the panel's order."""
    values = _values(rng, body, ctx, panel)
    results = []
    for key in PANELS[panel].members:
        measure = LABS[key]
        value = round_to(values[key], measure.decimals)
        comparator = None
        if key == "egfr" and value > 90:
            value, comparator = 90, ">"
        elif key == "crp" and not ctx.infection:
            comparator = "<"
        results.append(Result(measure, value, comparator))
    return results


def phq9(rng: random.Random, ctx: Context) -> Result:
    """A PHQ-9 depression score (0-27): moderate to severe when untreated, improving with care."""
    centre = 8.0 if "depression" in ctx.treated else 16.0
    return Result(PHQ9, round(jitter(rng, centre, 3.5, 0.0, 27.0)))
