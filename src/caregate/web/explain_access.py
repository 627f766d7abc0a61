"""`$explain-access`: for administrators, why a user's request would be permitted or denied, rule by rule.

`POST [base]/$explain-access` with a Parameters resource, or `GET [base]/$explain-access?...` with the same
names as query parameters:

- `user` (string, required): the user as added with `caregate users add`;
- `request` (string, required): the method and path, e.g. `GET /fhir/Observation?patient=1`;
- `purpose` (code), `reason` (string): the X-Purpose-Of-Use and X-Break-Glass-Reason the request would carry;
- `scope` (string): the token's scopes (default `patient/*.rs` for a patient user, else `user/*.rs`).

The answer is a Parameters resource: `allowed` (boolean), `verdict` (PERMITTED or DENIED) and one `step` per
rule applied, in the words `caregate access explain` prints, those naming the relationship and the Consent
found in the record for the patient the request names included. Only actors with the local `admin` role may ask
(403 otherwise): an explanation reveals other users' roles and the policy's shape.

The operation is declared by an OperationDefinition (https://hl7.org/fhir/R4/operationdefinition.html) whose
canonical url is under the server's own base, as caregate's SubscriptionTopics are:
`[base]/OperationDefinition/explain-access`, readable there and named in the CapabilityStatement's
`rest.operation`.
"""

from __future__ import annotations

from caregate.auth.users import UserDirectory
from caregate.errors import FhirError, incorrect
from caregate.interactions.access_facts import record_steps
from caregate.interactions.context import RequestContext, Result
from caregate.interactions.read import read
from caregate.policy import Actor, ScopeError
from caregate.policy.explain import explain

OPERATION = "$explain-access"
DEFINITION_ID = "explain-access"
ADMIN = "admin"
_NAMES = ("user", "request", "purpose", "reason", "scope")


class ExplainAccess:
    def __init__(self, users: UserDirectory) -> None:
        self.users = users

    async def __call__(self, ctx: RequestContext, params: list[tuple[str, str]], body: object | None) -> dict:
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
        if result.allowed:  # which relationship and Consent rule decide, from the record itself
            await record_steps(ctx.store, ctx.registry, actor, method, path, asked.get("purpose"), ctx.policy, result)
        return {"resourceType": "Parameters", "parameter": [
            {"name": "allowed", "valueBoolean": result.allowed},
            {"name": "verdict", "valueString": "PERMITTED" if result.allowed else "DENIED"},
            {"name": "request", "valueString": f"{method.upper()} {path} by {person.name} (roles: "
                                               f"{', '.join(person.roles) or 'none'}; scopes: {scope})"},
            *({"name": "step", "valueString": step} for step in result.steps)]}


def definition_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/OperationDefinition/{DEFINITION_ID}"


async def read_definition(ctx: RequestContext) -> Result:
    """`GET [base]/OperationDefinition/explain-access`: a stored resource with that id if there is one (as for
    any read, the caller's access decides), else the definition above."""
    try:
        return await read(ctx, "OperationDefinition", DEFINITION_ID)
    except FhirError as exc:
        if exc.category != "not-found":
            raise
        return Result(body=operation_definition(ctx.base_url))


def _param(name: str, use: str, min_: int, max_: str, type_: str, documentation: str) -> dict:
    return {"name": name, "use": use, "min": min_, "max": max_, "documentation": documentation, "type": type_}


def operation_definition(base_url: str) -> dict:
    """The OperationDefinition of `$explain-access` as this module serves it: system level, no side effects (so
    GET is allowed as well as POST), the out parameters returned together in one Parameters resource."""
    return {
        "resourceType": "OperationDefinition", "id": DEFINITION_ID, "url": definition_url(base_url),
        "name": "ExplainAccess", "title": "Explain an access decision", "status": "active", "kind": "operation",
        "publisher": "caregate",
        "description": "For administrators (the local 'admin' role): whether a user's request would be permitted "
                       "or denied by the server's access policy, and why, rule by rule. Nothing is read or "
                       "changed on the user's behalf; other callers get 403.",
        "affectsState": False, "code": DEFINITION_ID, "system": True, "type": False, "instance": False,
        "parameter": [
            _param("user", "in", 1, "1", "string", "The user, by the name they were added with."),
            _param("request", "in", 1, "1", "string",
                   "The HTTP method and path of the request, e.g. 'GET /fhir/Observation?patient=1'."),
            _param("purpose", "in", 0, "1", "code",
                   "The purpose of use the request would carry (X-Purpose-Of-Use), a code of "
                   "http://terminology.hl7.org/CodeSystem/v3-ActReason such as TREAT or ETREAT."),
            _param("reason", "in", 0, "1", "string",
                   "The break-glass reason the request would carry (X-Break-Glass-Reason)."),
            _param("scope", "in", 0, "1", "string",
                   "The access token's scopes, space separated (default patient/*.rs for a patient user, else "
                   "user/*.rs)."),
            _param("allowed", "out", 1, "1", "boolean", "Whether the request would be permitted."),
            _param("verdict", "out", 1, "1", "string", "PERMITTED or DENIED."),
            _param("request", "out", 1, "1", "string",
                   "The request as understood: method, path, user, their roles and the scopes."),
            _param("step", "out", 0, "*", "string", "One rule applied, in order, and what it decided."),
        ],
    }


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
