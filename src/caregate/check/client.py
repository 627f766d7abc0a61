"""Plain HTTP to the server under test, every exchange kept as evidence with secrets taken out."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson

from caregate.check.model import Exchange, Skipped

BODY_LIMIT = 3000
EVIDENCE_LIMIT = 40
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
_SECRET_FIELDS = re.compile(r'("(?:access_token|refresh_token|id_token|client_secret|client_assertion)"\s*:\s*")[^"]*"')
_SECRET_PARAMS = re.compile(r"((?:access_token|client_secret|client_assertion|code)=)[^&\s]*")


def redact_text(text: str) -> str:
    return _SECRET_PARAMS.sub(r"\1[redacted]", _SECRET_FIELDS.sub(r'\1[redacted]"', text))


def _redact_headers(headers: httpx.Headers) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} [redacted]".strip()
        out[name] = value
    return out


def _body(raw: bytes | None) -> str | None:
    if not raw:
        return None
    text = raw[: BODY_LIMIT * 2].decode("utf-8", errors="replace")
    text = redact_text(text)
    if len(raw) > BODY_LIMIT or len(text) > BODY_LIMIT:
        return text[:BODY_LIMIT] + f"... [truncated, {len(raw)} bytes in all]"
    return text


class ReadOnlyRefusal(Skipped):
    """A write attempted in read-only mode: the test is skipped, the server untouched."""


class FhirClient:
    """A small synchronous FHIR HTTP client: relative paths are resolved against the base URL.

    In read-only mode it refuses every POST, PUT, PATCH and DELETE before anything leaves the machine.
    Without `keep_bodies` the evidence keeps each response's status and headers but not its body: on a
    production system the bodies are real patients' records, which have no place in a report.
    """

    def __init__(self, base_url: str, *, token: str | None = None, read_only: bool = False,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 keep_bodies: bool = True) -> None:
        self.base = base_url.rstrip("/")
        self.token = token
        self.read_only = read_only
        self.keep_bodies = keep_bodies
        self.evidence: list[Exchange] = []
        self.dropped = 0
        self.writes = 0
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport)

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base}/{path.lstrip('/')}" if path else self.base

    def request(self, method: str, path: str, *, json: Any = None, content: bytes | str | None = None,
                headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
                token: str | bool | None = True, note: str = "", not_a_write: bool = False) -> httpx.Response:
        """Send one request; `token=False` sends none, a string sends that one instead of the configured token.

        `not_a_write` marks a POST that changes no data (an OAuth token request), allowed in read-only mode.
        """
        method = method.upper()
        writes = method in WRITE_METHODS and not not_a_write and not (
            method == "POST" and path.split("?")[0].endswith("_search"))
        if writes and self.read_only:
            raise ReadOnlyRefusal(f"read-only mode: {method} not sent")
        all_headers = {"Accept": "application/fhir+json"}
        if json is not None:
            content = orjson.dumps(json)
            all_headers["Content-Type"] = "application/fhir+json"
        all_headers.update(headers or {})
        bearer = self.token if token is True else (token or None)
        if bearer:
            all_headers["Authorization"] = f"Bearer {bearer}"
        request = self._http.build_request(method, self.url(path), content=content, headers=all_headers,
                                           params=params)
        if writes:
            self.writes += 1
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            self._keep(Exchange(method, redact_text(str(request.url)), _redact_headers(request.headers),
                                _body(request.content), None, {}, None, f"no response: {exc}"))
            raise
        body = _body(response.content) if self.keep_bodies or not response.content else \
            f"[{len(response.content)} bytes not kept: response bodies are left out of this report]"
        self._keep(Exchange(method, redact_text(str(request.url)), _redact_headers(request.headers),
                            _body(request.content), response.status_code, _redact_headers(response.headers),
                            body, note))
        return response

    def _keep(self, exchange: Exchange) -> None:
        if len(self.evidence) < EVIDENCE_LIMIT:
            self.evidence.append(exchange)
        else:
            self.dropped += 1

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, json=body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, json=body, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)


def body_json(response: httpx.Response) -> Any:
    """The response body as JSON, or None when it is not JSON."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
