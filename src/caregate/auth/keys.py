"""Signing keys kept in the database, published as a JWKS with `kid`, rotated without breaking live tokens.

The newest key signs. A rotated-out key keeps being published (so tokens it signed still validate) until
every token it can have signed has expired. Keys are RSA (RS256, the algorithm RFC 9068 section 2.1 requires
every resource server to support), which also keeps validation cheap.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from joserfc import jwk

from caregate.auth.db import AuthDb

ALG = "RS256"
KEEP_AFTER_RETIRING = 24 * 3600  # longer than any token this server signs lives


class SigningKeys:
    def __init__(self, db: AuthDb, now: Callable[[], float] = time.time) -> None:
        self.db = db
        self.now = now
        self._active: jwk.RSAKey | None = None

    def active(self) -> jwk.RSAKey:
        """The key that signs; created on first use."""
        if self._active is None:
            row = self.db.one("SELECT kid, private_pem FROM auth_keys WHERE retired IS NULL "
                              "ORDER BY created DESC, kid LIMIT 1")
            if row is None:
                return self.rotate()
            self._active = _load(row[0], row[1])
        return self._active

    def rotate(self) -> jwk.RSAKey:
        """A fresh signing key; the previous one is retired but still published for a day."""
        kid = secrets.token_urlsafe(12)
        key = jwk.RSAKey.generate_key(2048, parameters={"kid": kid, "alg": ALG, "use": "sig"})
        pem = key.as_pem(private=True).decode()
        now = int(self.now())
        with self.db.connect() as c:
            c.run("UPDATE auth_keys SET retired = ? WHERE retired IS NULL", (now,))
            c.run("DELETE FROM auth_keys WHERE retired IS NOT NULL AND retired < ?", (now - KEEP_AFTER_RETIRING,))
            c.run("INSERT INTO auth_keys (kid, alg, private_pem, created) VALUES (?, ?, ?, ?)",
                  (kid, ALG, pem, now))
        self._active = key
        return key

    def public_keys(self) -> dict[str, jwk.RSAKey]:
        """Every key a live token may carry the `kid` of, by kid (public parts only)."""
        now = int(self.now())
        rows = self.db.all("SELECT kid, private_pem FROM auth_keys WHERE retired IS NULL OR retired >= ?",
                           (now - KEEP_AFTER_RETIRING,))
        return {kid: jwk.RSAKey.import_key(_load(kid, pem).as_dict(private=False)) for kid, pem in rows}

    def jwks(self) -> dict:
        """The JWK Set document (RFC 7517 section 5) served at the JWKS endpoint."""
        self.active()
        keys = []
        for kid, key in sorted(self.public_keys().items()):
            data = dict(key.as_dict(private=False))
            data.update({"kid": kid, "alg": ALG, "use": "sig"})
            keys.append(data)
        return {"keys": keys}


def _load(kid: str, pem: str) -> jwk.RSAKey:
    return jwk.RSAKey.import_key(pem, parameters={"kid": kid, "alg": ALG, "use": "sig"})
