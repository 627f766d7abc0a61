"""Patient-scope confinement: a token for one patient (patient/*.rs) reaches nothing of any other patient, by any
route: reads, searches, chains, _has, includes, compartments and history (SMART App Launch 2 scopes).

Given `--patient-token`, the checker learns whose record it opens (the one Patient it can see), places another
patient with an Observation beside it (or finds one, read-only), then tries every route to the other's data.
"""

from __future__ import annotations

from typing import Any

from caregate.check.client import body_json
from caregate.check.context import CheckContext
from caregate.check.model import check, skip
from caregate.check.registry import test
from caregate.check.samples import observation, patient
from caregate.check.suites.security import SMART, _declares, _gate

SCOPES = SMART + "scopes-and-launch-context.html"


def _setup(ctx: CheckContext) -> dict[str, Any]:
    if "confinement" in ctx.notes:
        return ctx.notes["confinement"]
    _gate(ctx)
    if not ctx.patient_token:
        skip("no --patient-token given")
    r = ctx.client.get("Patient", params={"_count": "50"}, token=ctx.patient_token)
    check(r.status_code == 200, f"with the patient token, GET Patient answered {r.status_code}")
    own = [(e.get("resource") or {}).get("id") for e in (body_json(r) or {}).get("entry") or []
           if (e.get("resource") or {}).get("resourceType") == "Patient"]
    check(len(own) == 1, f"the patient token sees {len(own)} Patients, not exactly its own one")
    if ctx.read_only:
        others = [(e.get("resource") or {}) for e in (body_json(ctx.client.get(
            "Patient", params={"_count": "20"})) or {}).get("entry") or []]
        other = next((p for p in others if p.get("id") and p.get("id") != own[0]), None)
        if other is None:
            skip("no other patient on the server to probe with (read-only mode)")
        obs = next(((e.get("resource") or {}) for e in (body_json(ctx.client.get(
            "Observation", params={"subject": f"Patient/{other['id']}", "_count": "1"})) or {}).get("entry") or []),
            None)
        if obs is None:
            skip("the other patient found has no Observation to probe with (read-only mode)")
    else:
        other = ctx.create("Patient", patient(ctx.run_id, {}) | {"name": [{"family": f"Other{ctx.run_id}"}]})
        obs = ctx.create("Observation", observation(ctx.run_id, {"Patient": other["id"]}))
        ctx.create("Observation", observation(ctx.run_id, {"Patient": own[0]}))
    family = next((n.get("family") for n in other.get("name") or [] if n.get("family")), None)
    ctx.notes["confinement"] = {"own": own[0], "other": other["id"], "other_obs": obs["id"], "family": family}
    return ctx.notes["confinement"]


def _leaks(body: Any, s: dict[str, Any]) -> bool:
    """Does a response carry the other patient, the other's Observation, or a reference to the other?"""
    if isinstance(body, dict):
        if body.get("resourceType") == "Patient" and body.get("id") == s["other"]:
            return True
        if body.get("resourceType") == "Observation" and body.get("id") == s["other_obs"]:
            return True
        ref = body.get("reference")
        if isinstance(ref, str) and ref.rstrip("/").endswith(f"Patient/{s['other']}"):
            return True
        return any(_leaks(v, s) for k, v in body.items() if k != "link")
    if isinstance(body, list):
        return any(_leaks(v, s) for v in body)
    return False


def _probe(ctx: CheckContext, s: dict[str, Any], requests: list[tuple[str, dict[str, str]]]) -> str:
    leaked, refused = [], 0
    for path, params in requests:
        r = ctx.client.get(path, params=params, token=ctx.patient_token)
        if r.status_code >= 500:
            leaked.append(f"{path} answered {r.status_code}")
        elif r.status_code == 200 and _leaks(body_json(r), s):
            query = "&".join(f"{k}={v}" for k, v in params.items())
            leaked.append(f"{path}{'?' + query if query else ''}")
        elif r.status_code != 200:
            refused += 1
    check(not leaked, f"the other patient's data came back through: {', '.join(leaked)}")
    return f"{len(requests)} routes, nothing of another patient ({refused} refused outright)"


def _confine_test(id_: str, title: str, text: str, requests):
    def run(ctx: CheckContext) -> str:
        s = _setup(ctx)
        return _probe(ctx, s, requests(s))

    test(f"security.patient-{id_}", title, text, SCOPES, mandatory=_declares)(run)


@test("security.patient-own", "A patient token sees exactly its own patient",
      "A token granted for one patient (patient/*.rs) SHALL see that Patient and no other.", SCOPES,
      mandatory=_declares)
def own_patient(ctx: CheckContext) -> str:
    s = _setup(ctx)
    return f"sees Patient/{s['own']} only"


_confine_test("read", "A patient token cannot read another patient's records",
              "Under patient/ scopes, reading another patient or their resources SHALL be refused (403 or 404).",
              lambda s: [(f"Patient/{s['other']}", {}), (f"Observation/{s['other_obs']}", {})])
_confine_test("search", "A patient token's searches return only that patient's records",
              "Searches under patient/ scopes SHALL return only resources in the patient's compartment, whatever "
              "the parameters ask for.",
              lambda s: [("Observation", {"subject": f"Patient/{s['other']}"}),
                         ("Observation", {"patient": s["other"]}),
                         ("Observation", {"_id": s["other_obs"]}), ("Patient", {"_id": s["other"]}),
                         ("Observation", {"_count": "200"}), ("Patient", {"_count": "200"}),
                         (f"Patient/{s['other']}/Observation", {})])
_confine_test("chain-has", "Chains and _has do not reach another patient",
              "Chained parameters and _has SHALL NOT reveal another patient's records to a patient token.",
              lambda s: [("Observation", {"subject:Patient.family": s["family"] or "x"}),
                         ("Patient", {"_has:Observation:subject:_id": s["other_obs"]}),
                         ("Observation", {"subject:Patient._id": s["other"]})])
_confine_test("include", "_include and _revinclude do not pull in another patient",
              "Included resources SHALL be confined to the patient's compartment like the matches themselves.",
              lambda s: [("Observation", {"_include": "Observation:subject", "_count": "200"}),
                         ("Patient", {"_revinclude": "Observation:subject", "_count": "200"}),
                         ("Patient", {"_id": s["own"], "_revinclude": "*"}),
                         ("Observation", {"_include": "*", "_count": "200"})])
_confine_test("history", "History does not show another patient's versions",
              "Instance, type and system history SHALL be confined to the patient's compartment.",
              lambda s: [(f"Observation/{s['other_obs']}/_history", {}), (f"Patient/{s['other']}/_history", {}),
                         ("Observation/_history", {"_count": "200"}), ("Patient/_history", {"_count": "200"}),
                         ("_history", {"_count": "200"})])
