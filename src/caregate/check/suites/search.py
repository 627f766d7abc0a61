"""The search suite: every declared search parameter of the UK Core types, then modifiers, prefixes and the rest.

Each parameter is tried twice on a known resource, restricted with `_id`: with a value taken from the resource
(it must be found) and with a value it surely lacks (it must not be). A server that ignores a parameter it
declares fails the second; one that cannot match it fails the first.
"""

from __future__ import annotations

from typing import Any

from caregate.check.client import body_json
from caregate.check.context import CheckContext
from caregate.check.model import Skipped, check, skip
from caregate.check.probes import absent, probe
from caregate.check.registry import R4, test
from caregate.check.samples import UK_CORE_TYPES, patient

SEARCH = R4 + "search.html"
_NOT_TRIED = {"_text", "_content", "_profile", "_security", "_source", "_tag", "_list", "_query", "_has",
              "_filter", "_type"}


def _ids(bundle: Any, mode: str = "match") -> list[str]:
    if not isinstance(bundle, dict):
        return []
    return [(e.get("resource") or {}).get("id") for e in bundle.get("entry") or []
            if (e.get("search") or {}).get("mode", "match") == mode]


def _search(ctx: CheckContext, type_: str, params: dict[str, str] | list[tuple[str, str]]) -> tuple[int, list[str]]:
    r = ctx.client.get(type_, params=params)
    return r.status_code, _ids(body_json(r))


def _params_test(type_: str):
    def run(ctx: CheckContext) -> str:
        if not ctx.cap.supports(type_, "search-type"):
            skip(f"{type_} is not searchable here")
        declared = ctx.cap.search_params(type_)
        sample = ctx.sample(type_)
        rid = sample["id"]
        problems, tried, no_value, refused = [], [], [], []
        keep: list = []
        for code, kind in sorted(declared.items()):
            if code in _NOT_TRIED:
                continue
            p = probe(sample, code, kind)
            if p is None:
                if absent(sample, code, kind):
                    _try_missing(ctx, type_, rid, code, tried, refused, problems, keep)
                else:
                    no_value.append(code)
                continue
            tried.append(code)
            mark = len(ctx.client.evidence)
            status, ids = _search(ctx, type_, {"_id": rid, code: p.value})
            bad = status != 200 or rid not in ids
            if bad:
                problems.append(f"{code}={p.value} did not find it ({status})")
            if p.miss is not None:
                status, ids = _search(ctx, type_, {"_id": rid, code: p.miss})
                if status == 200 and rid in ids:
                    problems.append(f"{code}={p.miss} found it: the parameter is ignored or mismatched")
                    bad = True
            if bad or len(keep) < 4:
                keep += ctx.client.evidence[mark:]
            del ctx.client.evidence[mark:]
        ctx.client.evidence[:] = keep
        if not tried:
            skip(f"none of {type_}'s declared parameters has a value in the {type_} tested")
        check(not problems, f"{len(problems)} problem(s) over {len(tried)} parameters: " + "; ".join(problems[:12]))
        note = f"; {len(no_value)} not tried: {', '.join(no_value)}" if no_value else ""
        if refused:
            note += f"; :missing refused for {', '.join(refused)}"
        return f"{len(tried)} parameters find it and only it{note}"

    return run


def _try_missing(ctx: CheckContext, type_: str, rid: str, code: str, tried: list, refused: list,
                 problems: list, keep: list) -> None:
    """A parameter the resource has no value for: `:missing=true` finds it, `:missing=false` does not."""
    mark = len(ctx.client.evidence)
    status, ids = _search(ctx, type_, {"_id": rid, f"{code}:missing": "true"})
    if status in (400, 422, 501):
        refused.append(code)
        del ctx.client.evidence[mark:]
        return
    tried.append(code)
    bad = status != 200 or rid not in ids
    if bad:
        problems.append(f"{code}:missing=true did not find it ({status})")
    status, ids = _search(ctx, type_, {"_id": rid, f"{code}:missing": "false"})
    if status == 200 and rid in ids:
        problems.append(f"{code}:missing=false found it though it has no {code}")
        bad = True
    if bad:
        keep += ctx.client.evidence[mark:]
    del ctx.client.evidence[mark:]


def _declared_searchable(type_: str):
    return lambda cap: cap.supports(type_, "search-type") and bool(cap.search_params(type_))


for _type in UK_CORE_TYPES:
    test(f"search.{_type}", f"Every declared {_type} search parameter finds the right records",
         f"Each search parameter declared for {_type} SHALL be supported: a value the record has finds it, a value "
         "it lacks does not.", SEARCH + "#standard",
         mandatory=_declared_searchable(_type))(_params_test(_type))


def _param(type_: str, code: str):
    return lambda cap: cap.supports(type_, "search-type") and code in cap.search_params(type_)


def _needs(ctx: CheckContext, type_: str, *codes: str) -> None:
    if not ctx.cap.supports(type_, "search-type"):
        skip(f"{type_} is not searchable")
    missing = [c for c in codes if c not in ctx.cap.search_params(type_)]
    if missing:
        skip(f"{type_} does not declare {', '.join(missing)}")


def _expect(ctx: CheckContext, type_: str, rid: str, cases: list[tuple[list[tuple[str, str]], bool]]) -> str:
    """Each case: parameters (besides `_id`) and whether the resource must be found. 4xx means 'not supported'."""
    refused, wrong = [], []
    for params, found in cases:
        r = ctx.client.get(type_, params=[("_id", rid), *params])
        query = "&".join(f"{k}={v}" for k, v in params)
        if r.status_code in (400, 422, 501):
            refused.append(query)
            continue
        ids = _ids(body_json(r))
        if r.status_code != 200 or (rid in ids) != found:
            wrong.append(f"{query} {'did not find' if found else 'found'} it ({r.status_code})")
    check(not wrong, "wrong results: " + "; ".join(wrong))
    if refused and len(refused) == len(cases):
        raise Skipped(f"not supported (refused with an error, as it should be): {', '.join(refused)}")
    return f"{len(cases) - len(refused)} searches right" + (f", refused: {', '.join(refused)}" if refused else "")


def _family(p: dict) -> str:
    family = next((n.get("family") for n in p.get("name") or [] if n.get("family")), None)
    if not family:
        skip("the Patient tested has no family name")
    return family


@test("search.string-modifiers", "String search: default, :exact and :contains",
      "A string parameter matches case- and accent-insensitively from the start; :exact matches the whole string "
      "case-sensitively; :contains matches anywhere. A modifier the server does not support is refused, never "
      "ignored.", SEARCH + "#string", mandatory=_param("Patient", "family"))
def string_modifiers(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "family")
    p = ctx.sample("Patient")
    family = _family(p)
    return _expect(ctx, "Patient", p["id"], [
        ([("family", family[:4].upper())], True), ([("family", family[1:])], False),
        ([("family:exact", family)], True), ([("family:exact", family.swapcase())], False),
        ([("family:exact", family[:-1])], False), ([("family:contains", family[1:-1].lower())], True),
    ])


@test("search.token-forms", "Token search: system|code, |code, system| and :not",
      "A token matches on [system]|[code], [code], |[code] (no system) and [system]|; :not excludes matches.",
      SEARCH + "#token", mandatory=_param("Patient", "identifier"))
def token_forms(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "identifier", "gender")
    p = ctx.sample("Patient")
    ident = next((i for i in p.get("identifier") or [] if i.get("system") and i.get("value")), None)
    if ident is None or not p.get("gender"):
        skip("the Patient tested has no identifier with a system, or no gender")
    other = "male" if p["gender"] != "male" else "female"
    return _expect(ctx, "Patient", p["id"], [
        ([("identifier", f"{ident['system']}|{ident['value']}")], True),
        ([("identifier", ident["value"])], True),
        ([("identifier", f"{ident['system']}|")], True),
        ([("identifier", f"|{ident['value']}")], False),
        ([("identifier", f"https://example.org/other|{ident['value']}")], False),
        ([("gender:not", other)], True), ([("gender:not", p["gender"])], False),
    ])


@test("search.date-prefixes", "Date search with prefixes and partial dates",
      "Dates are ranges at their precision: eq1984 covers the whole year; gt, lt, ge, le, ne, sa and eb compare "
      "ranges as the search page defines.", SEARCH + "#prefix", mandatory=_param("Patient", "birthdate"))
def date_prefixes(ctx: CheckContext) -> str:
    import datetime as dt

    _needs(ctx, "Patient", "birthdate")
    p = ctx.sample("Patient")
    try:
        born = dt.date.fromisoformat(p.get("birthDate", ""))
    except ValueError:
        skip("the Patient tested has no full birthDate")
    before, after = born - dt.timedelta(days=1), born + dt.timedelta(days=1)
    cases: list[tuple[list[tuple[str, str]], bool]] = [
        ([("birthdate", str(born))], True), ([("birthdate", f"eq{born}")], True),
        ([("birthdate", born.strftime("%Y-%m"))], True), ([("birthdate", born.strftime("%Y"))], True),
        ([("birthdate", f"eq{before}")], False), ([("birthdate", f"ne{born}")], False),
        ([("birthdate", f"gt{before}")], True), ([("birthdate", f"gt{born}")], False),
        ([("birthdate", f"lt{after}")], True), ([("birthdate", f"lt{born}")], False),
        ([("birthdate", f"ge{born}")], True), ([("birthdate", f"le{born}")], True),
        ([("birthdate", f"ge{after}")], False), ([("birthdate", f"le{before}")], False),
        ([("birthdate", f"ge{before}"), ("birthdate", f"le{after}")], True),
    ]
    return _expect(ctx, "Patient", p["id"], cases)


@test("search.reference-forms", "Reference search: Type/id, id, :Type and the patient parameter",
      "A reference parameter matches [type]/[id], a bare [id], and [param]:[type]=[id].", SEARCH + "#reference",
      mandatory=_param("Observation", "subject"))
def reference_forms(ctx: CheckContext) -> str:
    _needs(ctx, "Observation", "subject")
    o = ctx.sample("Observation")
    ref = (o.get("subject") or {}).get("reference", "")
    if not ref.startswith("Patient/"):
        skip("the Observation tested has no Patient subject")
    pid = ref.split("/")[-1]
    cases = [([("subject", ref)], True), ([("subject", pid)], True), ([("subject:Patient", pid)], True),
             ([("subject", "Patient/no-such-check")], False), ([("subject:Group", pid)], False)]
    if "patient" in ctx.cap.search_params("Observation"):
        cases += [([("patient", pid)], True), ([("patient", "no-such-check")], False)]
    return _expect(ctx, "Observation", o["id"], cases)


@test("search.quantity", "Quantity search with prefixes and units",
      "A quantity parameter matches [prefix][number]|[system]|[code]; gt and lt compare the value; the value is "
      "matched at the precision given.", SEARCH + "#quantity", mandatory=_param("Observation", "value-quantity"))
def quantity(ctx: CheckContext) -> str:
    _needs(ctx, "Observation", "value-quantity")
    o = ctx.sample("Observation")
    q = o.get("valueQuantity") or {}
    if not isinstance(q.get("value"), int | float) or not q.get("system") or not q.get("code"):
        skip("the Observation tested has no coded valueQuantity")
    v, unit = q["value"], f"|{q['system']}|{q['code']}"
    return _expect(ctx, "Observation", o["id"], [
        ([("value-quantity", f"{v}{unit}")], True), ([("value-quantity", f"{v}")], True),
        ([("value-quantity", f"gt{v - 1}{unit}")], True), ([("value-quantity", f"lt{v - 1}{unit}")], False),
        ([("value-quantity", f"le{v + 1}{unit}")], True), ([("value-quantity", f"{v + 5}{unit}")], False),
    ])


@test("search.chaining", "Chained search through a reference",
      "subject:Patient.family=X finds Observations whose subject Patient matches family=X.",
      SEARCH + "#chaining", mandatory=lambda cap: False)
def chaining(ctx: CheckContext) -> str:
    _needs(ctx, "Observation", "subject")
    o = ctx.sample("Observation")
    ref = (o.get("subject") or {}).get("reference", "")
    if not ref.startswith("Patient/"):
        skip("the Observation tested has no Patient subject")
    family = _family(body_json(ctx.client.get(ref)) or {})
    return _expect(ctx, "Observation", o["id"], [([("subject:Patient.family", family)], True),
                                                 ([("subject:Patient.family", "zzq-no-such")], False)])


@test("search.has", "Reverse chaining with _has",
      "Patient?_has:Observation:subject:code=X finds Patients that some Observation with code X refers to.",
      SEARCH + "#has", mandatory=lambda cap: False)
def has(ctx: CheckContext) -> str:
    _needs(ctx, "Patient")
    o = ctx.sample("Observation")
    ref = (o.get("subject") or {}).get("reference", "")
    coding = next(iter((o.get("code") or {}).get("coding") or []), {})
    if not ref.startswith("Patient/") or not coding.get("code"):
        skip("the Observation tested has no Patient subject or no code")
    code = f"{coding.get('system', '')}|{coding['code']}" if coding.get("system") else coding["code"]
    return _expect(ctx, "Patient", ref.split("/")[-1], [([("_has:Observation:subject:code", code)], True),
                                                       ([("_has:Observation:subject:code", "x|zzq")], False)])


@test("search.include", "_include adds the referenced resources, marked include",
      "_include=Observation:subject adds each match's subject to the Bundle with search.mode = include.",
      SEARCH + "#include", mandatory=lambda cap: "Observation:subject" in (cap.resource("Observation")
                                                                          .get("searchInclude") or []))
def include(ctx: CheckContext) -> str:
    _needs(ctx, "Observation")
    o = ctx.sample("Observation")
    ref = (o.get("subject") or {}).get("reference", "")
    if not ref:
        skip("the Observation tested has no subject")
    r = ctx.client.get("Observation", params={"_id": o["id"], "_include": "Observation:subject"})
    check(r.status_code == 200, f"answered {r.status_code}")
    bundle = body_json(r)
    check(_ids(bundle) == [o["id"]], "the match is wrong")
    check(ref.split("/")[-1] in _ids(bundle, "include"), f"{ref} is not included with search.mode include")
    return "subject included"


@test("search.revinclude", "_revinclude adds the resources that refer to the matches",
      "_revinclude=Observation:subject adds Observations referring to each matching Patient, marked include.",
      SEARCH + "#revinclude", mandatory=lambda cap: "Observation:subject" in (cap.resource("Patient")
                                                                             .get("searchRevInclude") or []))
def revinclude(ctx: CheckContext) -> str:
    _needs(ctx, "Patient")
    o = ctx.sample("Observation")
    ref = (o.get("subject") or {}).get("reference", "")
    if not ref.startswith("Patient/"):
        skip("the Observation tested has no Patient subject")
    r = ctx.client.get("Patient", params={"_id": ref.split("/")[-1], "_revinclude": "Observation:subject"})
    check(r.status_code == 200, f"answered {r.status_code}")
    check(o["id"] in _ids(body_json(r), "include"), "the referring Observation is not included")
    return "referring Observation included"


@test("search.missing", ":missing finds what has or lacks a value",
      "[param]:missing=true matches resources without a value for the parameter, :missing=false those with one.",
      SEARCH + "#modifiers", mandatory=lambda cap: False)
def missing(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "birthdate")
    p = ctx.sample("Patient")
    if not p.get("birthDate"):
        skip("the Patient tested has no birthDate")
    cases = [([("birthdate:missing", "false")], True), ([("birthdate:missing", "true")], False)]
    if "death-date" in ctx.cap.search_params("Patient") and "deceasedDateTime" not in p:
        cases.append(([("death-date:missing", "true")], True))
    return _expect(ctx, "Patient", p["id"], cases)


@test("search.or-and", "Several values mean OR; repeated parameters mean AND",
      "param=a,b matches either value; param=a&param=b requires both.", SEARCH + "#combining",
      mandatory=_param("Patient", "gender"))
def or_and(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "gender")
    p = ctx.sample("Patient")
    if not p.get("gender"):
        skip("the Patient tested has no gender")
    g = p["gender"]
    other = "male" if g != "male" else "female"
    return _expect(ctx, "Patient", p["id"], [
        ([("gender", f"{other},{g}")], True), ([("gender", other)], False),
        ([("gender", g), ("gender", other)], False), ([("gender", g), ("gender", f"{g},{other}")], True),
    ])


@test("search.sort", "_sort orders the matches",
      "_sort=birthdate sorts ascending, _sort=-birthdate descending.", SEARCH + "#sort",
      mandatory=lambda cap: False)
def sort(ctx: CheckContext) -> str:
    _needs(ctx, "Patient", "birthdate")
    if ctx.read_only:
        r = ctx.client.get("Patient", params={"_sort": "birthdate", "_count": "20"})
        bundle = body_json(r) or {}
        dates = [(e.get("resource") or {}).get("birthDate") for e in bundle.get("entry") or []]
        dates = [d for d in dates if d]
        check(r.status_code == 200 and dates == sorted(dates), f"not in birthDate order: {dates}")
        return f"{len(dates)} patients in order"
    a = ctx.create("Patient", patient(ctx.run_id, {}) | {"birthDate": "1950-01-01"})
    b = ctx.create("Patient", patient(ctx.run_id, {}) | {"birthDate": "2001-12-31"})
    c = ctx.sample("Patient")
    ids = f"{b['id']},{a['id']},{c['id']}"
    _, up = _search(ctx, "Patient", {"_id": ids, "_sort": "birthdate"})
    _, down = _search(ctx, "Patient", {"_id": ids, "_sort": "-birthdate"})
    check(up == [a["id"], c["id"], b["id"]], f"ascending order wrong: {up}")
    check(down == [b["id"], c["id"], a["id"]], f"descending order wrong: {down}")
    return "both directions right"


@test("search.summary-count", "_summary=count answers the total without entries",
      "_summary=count returns a searchset Bundle with total and no entries.", SEARCH + "#summary",
      mandatory=lambda cap: False)
def summary_count(ctx: CheckContext) -> str:
    _needs(ctx, "Patient")
    pid = ctx.sample("Patient")["id"]
    r = ctx.client.get("Patient", params={"_id": pid, "_summary": "count"})
    bundle = body_json(r) or {}
    check(r.status_code == 200, f"answered {r.status_code}")
    check(bundle.get("total") == 1 and not bundle.get("entry"), f"total {bundle.get('total')} with "
                                                                 f"{len(bundle.get('entry') or [])} entries")
    return "total 1, no entries"


@test("search.strict-unknown", "With handling=strict, an unknown parameter is an error",
      "Prefer: handling=strict asks the server to refuse unknown or unsupported parameters (400) instead of "
      "ignoring them.", SEARCH + "#errors", mandatory=lambda cap: False)
def strict_unknown(ctx: CheckContext) -> str:
    _needs(ctx, "Patient")
    r = ctx.client.get("Patient", params={"zz-no-such-param": "1"}, headers={"Prefer": "handling=strict"})
    check(r.status_code == 400, f"answered {r.status_code}, not 400")
    r = ctx.client.get("Patient", params={"zz-no-such-param": "1", "_count": "1"},
                       headers={"Prefer": "handling=lenient"})
    check(r.status_code == 200, f"lenient handling answered {r.status_code}, not 200")
    return "strict refuses, lenient ignores"


@test("search.self-link", "A searchset says what was searched",
      "A search answer is a Bundle of type searchset with a self link stating the parameters used.",
      SEARCH + "#conformance", mandatory=lambda cap: cap.supports("Patient", "search-type"))
def self_link(ctx: CheckContext) -> str:
    _needs(ctx, "Patient")
    r = ctx.client.get("Patient", params={"_count": "1"})
    bundle = body_json(r) or {}
    check(bundle.get("type") == "searchset", "not a searchset Bundle")
    links = {li.get("relation"): li.get("url") for li in bundle.get("link") or []}
    check(links.get("self"), "no self link")
    return "searchset with a self link"
