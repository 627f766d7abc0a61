"""A second factor: time-based one-time passwords (TOTP, RFC 6238) from an authenticator app, with single-use
recovery codes for a lost phone. Each code is accepted once (its time step is remembered), so a code seen over
someone's shoulder cannot be replayed within its 30 seconds.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable

import pyotp

from caregate.auth.db import AuthDb

RECOVERY_CODES = 8
_WINDOW = 1  # one 30-second step either side, for clocks that drift


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().replace("-", "").lower().encode()).hexdigest()


class SecondFactor:
    def __init__(self, db: AuthDb, now: Callable[[], float] = time.time) -> None:
        self.db = db
        self.now = now

    def enrol(self, name: str, issuer: str = "caregate") -> tuple[str, str, list[str]]:
        """A new secret for the user: (secret, otpauth:// URI for a QR code, recovery codes). Shown once."""
        secret = pyotp.random_base32()
        codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
        with self.db.connect() as c:
            c.run("DELETE FROM auth_totp WHERE name = ?", (name,))
            c.run("INSERT INTO auth_totp (name, secret, recovery, last_step) VALUES (?, ?, ?, 0)",
                  (name, secret, json.dumps([_digest(x) for x in codes])))
        uri = pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)
        return secret, uri, codes

    def enrolled(self, name: str) -> bool:
        return self.db.one("SELECT 1 FROM auth_totp WHERE name = ?", (name,)) is not None

    def verify(self, name: str, code: str) -> bool:
        """True for a current TOTP code not used before, or an unused recovery code (which is then spent)."""
        code = code.strip()
        now = self.now()
        with self.db.connect() as c:
            row = c.one("SELECT secret, recovery, last_step FROM auth_totp WHERE name = ?", (name,))
            if row is None:
                return False
            secret, recovery, last_step = row[0], json.loads(row[1]), row[2]
            totp = pyotp.TOTP(secret)
            if code.isdigit() and len(code) == 6:
                for offset in range(-_WINDOW, _WINDOW + 1):
                    moment = now + offset * totp.interval
                    step = totp.timecode(moment)
                    if step > last_step and secrets.compare_digest(totp.at(moment), code):
                        c.run("UPDATE auth_totp SET last_step = ? WHERE name = ?", (step, name))
                        return True
                return False
            digest = _digest(code)
            if digest in recovery:
                recovery.remove(digest)
                c.run("UPDATE auth_totp SET recovery = ? WHERE name = ?", (json.dumps(recovery), name))
                return True
        return False
