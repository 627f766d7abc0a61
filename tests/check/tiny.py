"""Tiny FHIR-ish servers written for the checker's tests: each breaks or keeps chosen rules on purpose."""

from __future__ import annotations

import json
import threading
import time
import uuid

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.e2e.server import free_port

FHIR_JSON = "application/fhir+json"


class Serving:
    """Run a Starlette app with uvicorn in a thread on a free loopback port."""

    def __init__(self, app: Starlette) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}/fhir"
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("tiny server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def broken_app() -> Starlette:
    """Declares FHIR STU3, answers errors in plain text, shows a stack trace, ignores every search parameter,
    sends no ETag, and is open to anyone."""
    patients: dict[str, dict] = {}

    async def metadata(_: Request) -> Response:
        return JSONResponse({
            "resourceType": "CapabilityStatement", "status": "active", "date": "2024-01-01", "kind": "instance",
            "fhirVersion": "3.0.2", "format": ["json"],
            "rest": [{"mode": "server", "resource": [{
                "type": "Patient",
                "interaction": [{"code": "read"}, {"code": "create"}, {"code": "search-type"}],
                "searchParam": [{"name": "family", "type": "string"}, {"name": "gender", "type": "token"},
                                {"name": "birthdate", "type": "date"}]}]}],
        }, media_type=FHIR_JSON)

    async def patient_type(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return PlainTextResponse("Internal Server Error", status_code=500)
            pid = uuid.uuid4().hex
            patients[pid] = {**body, "id": pid, "meta": {"versionId": "1", "lastUpdated": "2024-01-01T00:00:00Z"}}
            return JSONResponse(patients[pid], status_code=201, media_type=FHIR_JSON,
                                headers={"Location": f"/fhir/Patient/{pid}/_history/1"})
        if "birthdate" in request.query_params and not request.query_params["birthdate"][:1].isdigit() \
                and request.query_params["birthdate"][:2] not in ("ge", "le", "gt", "lt", "eq", "ne", "sa", "eb"):
            return PlainTextResponse('Traceback (most recent call last):\n  File "app.py", line 12, in search\n'
                                     "ValueError: bad date", status_code=500)
        entries = [{"resource": p, "search": {"mode": "match"}} for p in patients.values()]
        return JSONResponse({"resourceType": "Bundle", "type": "searchset", "total": len(entries),
                             "entry": entries}, media_type=FHIR_JSON)

    async def patient(request: Request) -> Response:
        found = patients.get(request.path_params["id"])
        if found is None:
            return PlainTextResponse("not found", status_code=404)
        return JSONResponse(found, media_type=FHIR_JSON)

    return Starlette(routes=[
        Route("/fhir/metadata", metadata),
        Route("/fhir/Patient", patient_type, methods=["GET", "POST"]),
        Route("/fhir/Patient/{id}", patient),
    ])


TOKEN = "good-token-7c1e"


def secured_app(client_id: str = "", public_key=None) -> Starlette:
    """Declares SMART on FHIR, publishes its configuration, accepts only its one token, and issues it to a
    backend client proving itself with a JWT signed by its registered key (RS384 or ES384)."""
    seen_jti: set[str] = set()

    async def token(request: Request) -> Response:
        from urllib.parse import parse_qsl

        from joserfc import jwt
        from joserfc.errors import JoseError

        form = dict(parse_qsl((await request.body()).decode()))
        refused = JSONResponse({"error": "invalid_client"}, status_code=401)
        if public_key is None or form.get("grant_type") != "client_credentials" or \
                form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return refused
        try:
            claims = jwt.decode(str(form.get("client_assertion")), public_key, algorithms=["RS384", "ES384"]).claims
        except (JoseError, ValueError):
            return refused
        if claims.get("iss") != client_id or claims.get("sub") != client_id or \
                claims.get("aud") != f"{request.base_url}auth/token" or claims.get("exp", 0) < time.time() or \
                claims.get("jti") in seen_jti:
            return refused
        seen_jti.add(claims["jti"])
        return JSONResponse({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                             "scope": form.get("scope")})

    async def metadata(_: Request) -> Response:
        return JSONResponse({
            "resourceType": "CapabilityStatement", "status": "active", "date": "2024-01-01", "kind": "instance",
            "fhirVersion": "4.0.1", "format": ["json"],
            "rest": [{"mode": "server", "security": {"service": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                "code": "SMART-on-FHIR"}]}]},
                "resource": [{"type": "Patient", "interaction": [{"code": "search-type"}]}]}],
        }, media_type=FHIR_JSON)

    async def smart(request: Request) -> Response:
        return JSONResponse({"issuer": "http://127.0.0.1", "token_endpoint": f"{request.base_url}auth/token",
                             "grant_types_supported": ["client_credentials"],
                             "capabilities": ["client-confidential-asymmetric", "permission-v2"],
                             "code_challenge_methods_supported": ["S256"]})

    async def patients(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"resourceType": "OperationOutcome", "issue": [{
                "severity": "error", "code": "login", "diagnostics": "a valid bearer token is needed"}]},
                status_code=401, media_type=FHIR_JSON,
                headers={"WWW-Authenticate": 'Bearer realm="fhir", error="invalid_token"'})
        return JSONResponse({"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []},
                            media_type=FHIR_JSON)

    return Starlette(routes=[
        Route("/fhir/metadata", metadata),
        Route("/fhir/.well-known/smart-configuration", smart),
        Route("/fhir/Patient", patients),
        Route("/auth/token", token, methods=["POST"]),
    ])


PATIENT_TOKEN = "patient-p1-token"


def leaky_app() -> Starlette:
    """Secured, with a patient token for p1 that is confined on reads and on Patient search but not on
    Observation search or _include: the other patient's data leaks through those two routes."""
    patients = {p: {"resourceType": "Patient", "id": p, "name": [{"family": f"Fam{p}"}]} for p in ("p1", "p2")}
    observations = {f"o-{p}": {"resourceType": "Observation", "id": f"o-{p}", "status": "final",
                               "code": {"text": "x"}, "subject": {"reference": f"Patient/{p}"}} for p in ("p1", "p2")}
    inner = secured_app()

    def bundle(resources: list[dict], included: list[dict] = ()) -> Response:
        entries = [{"resource": r, "search": {"mode": "match"}} for r in resources]
        entries += [{"resource": r, "search": {"mode": "include"}} for r in included]
        return JSONResponse({"resourceType": "Bundle", "type": "searchset", "total": len(resources),
                             "link": [{"relation": "self", "url": "x"}], "entry": entries}, media_type=FHIR_JSON)

    def who(request: Request) -> str | None:
        auth = request.headers.get("authorization")
        return {f"Bearer {TOKEN}": "all", f"Bearer {PATIENT_TOKEN}": "p1"}.get(auth or "")

    async def patient_search(request: Request) -> Response:
        scope = who(request)
        if scope is None:
            return JSONResponse({"resourceType": "OperationOutcome", "issue": [{"severity": "error",
                                 "code": "login"}]}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        found = [p for p in patients.values() if scope == "all" or p["id"] == scope]
        if "_id" in request.query_params:
            found = [p for p in found if p["id"] == request.query_params["_id"]]
        return bundle(found)

    async def observation_search(request: Request) -> Response:
        if who(request) is None:
            return JSONResponse({}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        q = request.query_params
        found = list(observations.values())  # the leak: not confined to the token's patient
        if "subject" in q:
            found = [o for o in found if o["subject"]["reference"] == q["subject"]]
        included = [patients[o["subject"]["reference"].split("/")[1]] for o in found] if "_include" in q else []
        return bundle(found, included)

    async def read(request: Request) -> Response:
        scope = who(request)
        store = patients if request.path_params["type"] == "Patient" else observations
        found = store.get(request.path_params["id"])
        owner = found and (found["id"] if found["resourceType"] == "Patient" else
                           found["subject"]["reference"].split("/")[1])
        if scope is None:
            return JSONResponse({}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if found is None or (scope != "all" and owner != scope):
            return JSONResponse({"resourceType": "OperationOutcome", "issue": [{"severity": "error",
                                 "code": "not-found"}]}, status_code=404, media_type=FHIR_JSON)
        return JSONResponse(found, media_type=FHIR_JSON)

    async def refused(_: Request) -> Response:
        return JSONResponse({"resourceType": "OperationOutcome", "issue": [{"severity": "error",
                             "code": "forbidden"}]}, status_code=403, media_type=FHIR_JSON)

    routes = [r for r in inner.routes if getattr(r, "path", "") != "/fhir/Patient"]
    return Starlette(routes=[
        *routes,
        Route("/fhir/Patient", patient_search),
        Route("/fhir/Observation", observation_search),
        Route("/fhir/_history", refused),
        Route("/fhir/{type}/_history", refused),
        Route("/fhir/{type}/{id}/_history", refused),
        Route("/fhir/Patient/{id}/Observation", refused),
        Route("/fhir/{type}/{id}", read),
    ])


def export_app(broken_line: bool = False) -> Starlette:
    """Open (no security), declares system-level $export and runs it: 202, one poll at 202, then the manifest and
    one NDJSON file per type. With `broken_line`, the Observation file holds a Patient on its second line."""
    polls = {"n": 0}

    async def metadata(_: Request) -> Response:
        return JSONResponse({
            "resourceType": "CapabilityStatement", "status": "active", "date": "2024-01-01", "kind": "instance",
            "fhirVersion": "4.0.1", "format": ["json"],
            "rest": [{"mode": "server", "operation": [{
                "name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}],
                "resource": [{"type": "Patient", "interaction": [{"code": "read"}]}]}],
        }, media_type=FHIR_JSON)

    async def kickoff(request: Request) -> Response:
        if request.headers.get("prefer") != "respond-async":
            return JSONResponse({}, status_code=400)
        return Response(status_code=202, headers={"Content-Location": f"{request.base_url}status/1"})

    async def status(request: Request) -> Response:
        polls["n"] += 1
        if polls["n"] == 1:
            return Response(status_code=202, headers={"Retry-After": "0", "X-Progress": "50%"})
        base = str(request.base_url)
        return JSONResponse({"transactionTime": "2024-01-01T00:00:00Z", "request": f"{base}fhir/$export",
                             "requiresAccessToken": False, "error": [],
                             "output": [{"type": "Patient", "url": f"{base}files/Patient.ndjson"},
                                        {"type": "Observation", "url": f"{base}files/Observation.ndjson"}]})

    async def files(request: Request) -> Response:
        if request.path_params["name"] == "Patient.ndjson":
            lines = [{"resourceType": "Patient", "id": "p1", "gender": "female"}]
        else:
            lines = [{"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}}]
            lines.append({"resourceType": "Patient", "id": "p2"} if broken_line else
                         {"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "y"}})
        return Response("\n".join(json.dumps(x) for x in lines) + "\n", media_type="application/fhir+ndjson")

    return Starlette(routes=[
        Route("/fhir/metadata", metadata),
        Route("/fhir/$export", kickoff),
        Route("/status/{n}", status),
        Route("/files/{name}", files),
    ])
