"""`$explain-access`: for administrators, why a user's request would be permitted or denied, rule by rule.

`POST [base]/$explain-access` with a Parameters resource, or `GET [base]/$explain-access?...` with the same
names as query parameters:

- `user` (string, required): the user as added with `caregate users add`;
- `request` (string, required): the method and path, e.g. `GET /fhir/Observation?patient=1`;
- `purpose` (code), `reason` (string): the X-Purpose-Of-Use and X-Break-Glass-Reason the request would carry;
- `scope` (string): the token's scopes (default `patient/*.rs` for a patient user, else `user/*.rs`).

The answer is a Parameters resource: `allowed` (boolean), `verdict` (PERMITTED or DENIED) and one `step` per
rule applied, in the words `caregate access explain` prints. Only actors with the local `admin` role may ask
(403 otherwise): an explanation reveals other users' roles and the policy's shape.
"""

from __future__ import annotations

from caregate.auth.users import UserDirectory
from caregate.errors import FhirError, incorrect
from caregate.interactions.context import RequestContext
from caregate.policy import Actor, ScopeError
from caregate.policy.explain import explain

OPERATION = "$explain-access"
ADMIN = "admin"
_NAMES = ("user", "request", "purpose", "reason", "scope")


class ExplainAccess:
    def __init__(self, users: UserDirectory) -> None:
        self.users = users

    def __call__(self, ctx: RequestContext, params: list[tuple[str, str]], body: object | None) -> dict:
        if ctx.actor is None or ADMIN not in ctx.actor.roles:
            raise FhirError("forbidden", f"{OPERATION} is for users with the '{ADMIN}' role.")
        asked = _arguments(params, body)
        for name in ("user", "request"):
            if not asked.get(name):
                raise incorrect(f"{OPERATION} needs the parameter '{name}'.", name)
        method, _, path = asked["request"].strip().partition(" ")
        path = path.strip()
        if not path.startswith("/"):
            raise incorrect('request is the method and the path, e.g. "GET /fhir/Patient/1".', "request")
        person = self.users.get(asked["user"])
        if person is None:
            raise FhirError("not-found", f"There is no user named {asked['user']!r}.", ("user",))
        scope = asked.get("scope") or ("patient/*.rs" if person.patient else "user/*.rs")
        try:
            actor = Actor.from_scope_string(person.name, "explain", scope, patient=person.patient,
                                            fhir_user=person.fhir_user, roles=person.roles, org=person.org)
        except ScopeError as exc:
            raise incorrect(str(exc), "scope") from None
        result = explain(actor, method, path, asked.get("purpose"), asked.get("reason"), ctx.policy)
        return {"resourceType": "Parameters", "parameter": [
            {"name": "allowed", "valueBoolean": result.allowed},
            {"name": "verdict", "valueString": "PERMITTED" if result.allowed else "DENIED"},
            {"name": "request", "valueString": f"{method.upper()} {path} by {person.name} (roles: "
                                               f"{', '.join(person.roles) or 'none'}; scopes: {scope})"},
            *({"name": "step", "valueString": step} for step in result.steps)]}


def _arguments(params: list[tuple[str, str]], body: object | None) -> dict[str, str]:
    """The operation's arguments from the query string or a Parameters body (each at most once)."""
    found: dict[str, str] = {}
    pairs: list[tuple[str, object]] = list(params)
    if body is not None:
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise incorrect(f"{OPERATION} takes a Parameters resource.")
        for p in body.get("parameter") or []:
            if not isinstance(p, dict):
                raise incorrect("Parameters.parameter entries must be objects.", "Parameters.parameter")
            value = next((v for k, v in p.items() if k.startswith("value")), None)
            pairs.append((str(p.get("name")), value))
    for name, value in pairs:
        if name not in _NAMES:
            continue
        if not isinstance(value, str):
            raise incorrect(f"'{name}' must be a string.", name)
        if name in found:
            raise incorrect(f"'{name}' is given more than once.", name)
        found[name] = value
    return found
