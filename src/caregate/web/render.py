"""Turning interaction results and errors into HTTP responses (https://hl7.org/fhir/R4/http.html)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from starlette.responses import Response

from caregate.errors import HTTP_STATUS, FhirError, Issue
from caregate.fhir.xmlformat import to_xml
from caregate.interactions.bundles import outcome
from caregate.interactions.context import Result
from caregate.search.dates import parse_range

FHIR_JSON = "application/fhir+json; charset=utf-8"
FHIR_XML = "application/fhir+xml; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Format:
    """How a response is written: JSON or XML (https://hl7.org/fhir/R4/http.html#mime), indented or not."""

    xml: bool = False
    pretty: bool = False


JSON = Format()


def _http_date(last_updated: str) -> str:
    """RFC 9110 IMF-fixdate of a stored `meta.lastUpdated` (always UTC, written by the store)."""
    try:
        moment = datetime.fromisoformat(last_updated).astimezone(UTC)
    except ValueError:
        moment = datetime.fromtimestamp(parse_range(last_updated)[0] / 1_000_000, UTC)
    return f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year:04d} " \
           f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} GMT"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def json_response(body: dict | bytes, status: int = 200, headers: dict[str, str] | None = None,
                  out: Format = JSON) -> Response:
    """The body in the negotiated format; stored JSON bytes go out untouched on the common path."""
    if out.xml:
        resource = orjson.loads(body if isinstance(body, bytes) else orjson.dumps(body))
        return Response(to_xml(resource, pretty=out.pretty), status, headers=headers, media_type=FHIR_XML)
    if isinstance(body, bytes):
        data = body if not out.pretty else orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    else:
        data = orjson.dumps(body, option=orjson.OPT_INDENT_2 if out.pretty else 0)
    return Response(data, status, headers=headers, media_type=FHIR_JSON)


def error_response(exc: FhirError, out: Format = JSON) -> Response:
    return json_response(outcome(exc.issues), HTTP_STATUS[exc.category], exc.headers or None, out)


def render(result: Result, base_url: str, prefer_return: str | None, out: Format = JSON) -> Response:
    s = result.stored
    if s is None:
        status = result.status or 200
        if status == 204:
            return Response(status_code=204)
        return json_response(result.body or {}, status, None, out)
    headers = {"ETag": f'W/"{s.version}"', "Last-Modified": _http_date(s.last_updated)}
    status = result.status or (201 if result.created else 200)
    if s.deleted:
        return Response(status_code=200 if s.method == "noop" else 204, headers={"ETag": headers["ETag"]}
                        if s.method != "noop" else None)
    if result.created:
        headers["Location"] = f"{base_url}/{s.type}/{s.id}/_history/{s.version}"
    if prefer_return == "minimal":
        return Response(status_code=status, headers=headers)
    if prefer_return == "OperationOutcome":
        oo = outcome([Issue(f"{s.type}/{s.id} version {s.version} stored.", "informational", "information"),
                      *result.warnings])
        return json_response(oo, status, headers, out)
    return json_response(s.json, status, headers, out)
