"""Registered OAuth clients (RFC 6749 section 2): what each may ask for and how it proves who it is.

A client with a JWKS (by value, or a `jwks_uri`) authenticates with `private_key_jwt` (SMART Backend
Services, RFC 7523); a client without one is public and must use PKCE. Redirect URIs are matched exactly.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from caregate.auth.db import AuthDb


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    scope: str  # the scopes it is registered for, space-separated
    jwks: dict | None = None
    jwks_uri: str | None = None
    redirect_uris: tuple[str, ...] = ()

    @property
    def public(self) -> bool:
        return self.jwks is None and self.jwks_uri is None


class ClientRegistry:
    def __init__(self, db: AuthDb) -> None:
        self.db = db

    def add(self, name: str, scope: str, *, client_id: str | None = None, jwks: dict | None = None,
            jwks_uri: str | None = None, redirect_uris: tuple[str, ...] = ()) -> Client:
        if jwks is not None and not isinstance(jwks.get("keys"), list):
            raise ValueError("The JWKS must be a JSON object with a 'keys' array (RFC 7517 section 5).")
        client = Client(client_id or secrets.token_urlsafe(16), name, " ".join(scope.split()), jwks, jwks_uri,
                        tuple(redirect_uris))
        with self.db.connect() as c:
            if c.one("SELECT 1 FROM auth_clients WHERE client_id = ?", (client.client_id,)):
                raise ValueError(f"A client with id {client.client_id!r} already exists.")
            c.run("INSERT INTO auth_clients (client_id, name, scope, jwks, jwks_uri, redirect_uris, created) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (client.client_id, name, client.scope, json.dumps(jwks) if jwks is not None else None, jwks_uri,
                   json.dumps(list(redirect_uris)), int(time.time())))
        return client

    def get(self, client_id: str) -> Client | None:
        row = self.db.one("SELECT client_id, name, scope, jwks, jwks_uri, redirect_uris FROM auth_clients "
                          "WHERE client_id = ?", (client_id,))
        return _client(row) if row else None

    def list(self) -> list[Client]:
        rows = self.db.all("SELECT client_id, name, scope, jwks, jwks_uri, redirect_uris FROM auth_clients "
                           "ORDER BY created, client_id")
        return [_client(r) for r in rows]

    def remove(self, client_id: str) -> bool:
        return self.db.run("DELETE FROM auth_clients WHERE client_id = ?", (client_id,)) > 0


def _client(row: tuple) -> Client:
    return Client(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None, row[4],
                  tuple(json.loads(row[5] or "[]")))
