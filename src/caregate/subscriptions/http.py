"""A small HTTP/1.1 POST for rest-hook notifications, on asyncio streams (no client library at run time).

The rest-hook channel (https://hl7.org/fhir/R4/subscription.html#2.46.7.1, and the backport's
http://hl7.org/fhir/uv/subscriptions-backport/channels.html#rest-hook) POSTs the notification Bundle to
`Subscription.channel.endpoint` with the headers of `Subscription.channel.header`; any 2xx answer is
success. One connection per notification (`Connection: close`) keeps this simple and robust.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

_RESERVED = frozenset({"host", "content-length", "content-type", "connection", "transfer-encoding"})
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class DeliveryError(Exception):
    """The endpoint could not be reached or did not answer 2xx; the message says which (no body content)."""


async def post(url: str, body: bytes, headers: Sequence[tuple[str, str]] = (), timeout: float = 10.0) -> int:
    """POST `body` as application/fhir+json; returns the 2xx status, raises DeliveryError otherwise."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc.rpartition('@')[2]}",
             "Content-Type: application/fhir+json", f"Content-Length: {len(body)}", "Connection: close",
             "User-Agent: caregate-subscriptions", "Accept: */*"]
    for name, value in headers:
        if name.lower() not in _RESERVED and name and set(name) <= _TOKEN:
            lines.append(f"{name}: {value}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    try:
        async with asyncio.timeout(timeout):
            context = ssl.create_default_context() if secure else None
            reader, writer = await asyncio.open_connection(host, port, ssl=context,
                                                           server_hostname=host if secure else None)
            try:
                writer.write(head + body)
                await writer.drain()
                status_line = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # the response headers; the body is not needed
            finally:
                writer.close()
                with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
                    await writer.wait_closed()
    except TimeoutError as exc:
        raise DeliveryError(f"no answer within {timeout:g} s") from exc
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"cannot connect: {type(exc).__name__}") from exc
    fields = status_line.split()
    if len(fields) < 2 or not fields[1].isdigit():
        raise DeliveryError("the endpoint did not answer HTTP")
    status = int(fields[1])
    if not 200 <= status < 300:
        raise DeliveryError(f"the endpoint answered HTTP {status}")
    return status
