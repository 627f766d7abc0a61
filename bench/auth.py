"""What authentication costs: the added latency of validating a bearer token per FHIR request (cached keys),
and the token endpoint's throughput for backend services (client_credentials with an ES384 client assertion).

Latency is measured in process, so the network and the HTTP server do not hide the difference: the same
`GET /fhir/Patient/{id}` goes through the ASGI app built without authentication and with it, alternating, and
the p50s are compared. Token validation alone (`BearerValidator.actor`) is timed too.

Run alone: .venv/bin/python -m bench.auth
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from joserfc import jwk, jwt

from bench.report import Row, Target
from caregate.app import build
from caregate.auth.client_auth import ASSERTION_TYPE
from caregate.auth.server import AuthorizationServer
from caregate.auth.service import AuthService
from caregate.config import Settings
from caregate.storage.base import Write

FHIR = "http://127.0.0.1:8080/fhir"


async def _asgi_get(app, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    status = 0

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": headers, "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 8080),
             "client": ("127.0.0.1", 1), "root_path": ""}
    await app(scope, receive, send)
    return status


async def _latencies(open_app, secured_app, token: str, n: int) -> tuple[list[float], list[float]]:
    plain, authed = [], []
    bearer = [(b"authorization", f"Bearer {token}".encode())]
    for i in range(n):
        for app, headers, out in ((open_app, [], plain), (secured_app, bearer, authed)):
            start = time.perf_counter()
            status = await _asgi_get(app, f"/fhir/Patient/p{i % 50}", headers)
            out.append(time.perf_counter() - start)
            assert status == 200, status
    return plain, authed


def run(requests: int = 4000) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="caregate-bench-auth-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'auth.db'}"
        open_app = build(Settings.from_env(env={}, database_url=url, port=8080, no_auth=True), access_log=False)
        secured_app = build(Settings.from_env(env={}, database_url=url, port=8080), access_log=False)
        store = open_app.app.fhir.store
        store.transact_sync([Write("update", "Patient", f"p{i}", {"resourceType": "Patient", "id": f"p{i}",
                                                                   "name": [{"family": f"F{i}"}]}) for i in range(50)])
        service = AuthService(url, FHIR)
        key = jwk.ECKey.generate_key("P-384", parameters={"kid": "k1"})
        service.clients.add("bench", "system/*.rs", client_id="bench",
                            jwks={"keys": [dict(key.as_dict(private=False))]})
        token = service.issue("bench", "system/*.rs")[0]
        bearer = secured_app.app.fhir.bearer
        bearer.actor(token)
        times, first_times = [], []
        for _ in range(requests):
            start = time.perf_counter()
            bearer.actor(token)
            times.append(time.perf_counter() - start)
            bearer._verified.clear()  # the same token seen for the first time: its signature checked again
            start = time.perf_counter()
            bearer.actor(token)
            first_times.append(time.perf_counter() - start)
        validate_p50 = statistics.median(times) * 1000
        first_p50 = statistics.median(first_times) * 1000
        plain, authed = asyncio.run(_latencies(open_app, secured_app, token, requests))
        p50_plain, p50_auth = statistics.median(plain) * 1000, statistics.median(authed) * 1000

        server = AuthorizationServer(service)
        endpoint = server.endpoints["token_endpoint"]
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < 3:
            now = int(time.time())
            assertion = jwt.encode({"alg": "ES384", "kid": "k1"}, {
                "iss": "bench", "sub": "bench", "aud": endpoint, "exp": now + 60, "iat": now,
                "jti": secrets.token_urlsafe(12)}, key, algorithms=["ES384"])
            server.token({"grant_type": "client_credentials", "scope": "system/Patient.rs",
                          "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})
            count += 1
        rate = count / (time.perf_counter() - start)
        bearer.close()
        for app in (open_app, secured_app):
            asyncio.run(app.app.fhir.store.close())
    return [
        Row("auth", "bearer token validation alone, first use of a token (RS256 signature, cached keys), p50",
            first_p50, "ms", targets=(Target("<=", 0.2),), note=f"{requests:,} validations"),
        Row("auth", "bearer token validation alone, a token used before (expiry and revocation only), p50",
            validate_p50, "ms", first_p50, "first use", note=f"{requests:,} validations"),
        Row("auth", "GET /fhir/Patient/{id} in process with a bearer token, p50", p50_auth, "ms", p50_plain,
            "the same read with --no-auth, alternating", targets=(Target("<=", 0.2 + p50_plain),),
            note=f"added {p50_auth - p50_plain:.3f} ms per request; {requests:,} of each"),
        Row("auth", "token endpoint: client_credentials with an ES384 client assertion (signing included)", rate,
            "requests/s", note="one thread; SQLite; assertion signed by the bench in the same loop"),
    ]


if __name__ == "__main__":
    for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 4000):
        print(row)
