"""People who sign in: patients (linked to their Patient) and staff (a Practitioner, an organisation's ODS
code and national RBAC job-role codes). Passwords are hashed with Argon2id (RFC 9106); repeated failures lock
the account for a while, so passwords cannot be guessed at speed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from caregate.auth.db import AuthDb

MAX_FAILURES = 5
PROOFING_LEVELS = ("P0", "P5", "P9")  # NHS login identity proofing: none, basic, strong (vectors of trust)
LOCK_SECONDS = 15 * 60
_HASHER = PasswordHasher()  # Argon2id with the library's RFC 9106 low-memory profile
_DUMMY = _HASHER.hash("not a password of anyone")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    patient: str | None = None
    practitioner: str | None = None
    org: str | None = None
    roles: tuple[str, ...] = ()
    disabled: bool = False
    proofing: str = "P0"

    @property
    def fhir_user(self) -> str | None:
        if self.patient:
            return f"Patient/{self.patient}"
        if self.practitioner:
            return f"Practitioner/{self.practitioner}"
        return None


class SignInRefused(Exception):
    """Wrong name or password, a disabled or a locked account: the page says the same for each."""


class UserDirectory:
    def __init__(self, db: AuthDb, now: Callable[[], float] = time.time) -> None:
        self.db = db
        self.now = now

    def add(self, name: str, password: str | None = None, *, patient: str | None = None,
            practitioner: str | None = None, org: str | None = None, roles: tuple[str, ...] = (),
            proofing: str = "P0") -> User:
        if patient and practitioner:
            raise ValueError("A user is a patient or a practitioner, not both.")
        if proofing not in PROOFING_LEVELS:
            raise ValueError(f"The proofing level is one of {', '.join(PROOFING_LEVELS)}, not {proofing!r}.")
        hashed = _HASHER.hash(password) if password else None
        with self.db.connect() as c:
            if c.one("SELECT 1 FROM auth_users WHERE name = ?", (name,)):
                raise ValueError(f"A user named {name!r} already exists.")
            c.run("INSERT INTO auth_users (name, password_hash, patient, practitioner, org, roles, created) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (name, hashed, patient, practitioner, org, json.dumps(list(roles)), int(self.now())))
            c.run("DELETE FROM auth_proofing WHERE name = ?", (name,))
            c.run("INSERT INTO auth_proofing (name, level) VALUES (?, ?)", (name, proofing))
        return User(name, patient, practitioner, org, tuple(roles), proofing=proofing)

    def link(self, name: str, *, patient: str | None = None, practitioner: str | None = None,
             org: str | None = None, roles: tuple[str, ...] = (), proofing: str = "P0") -> User | None:
        """A user signed in by an identity provider: created on first sign-in, and on later ones brought up to
        date with what the provider now says (record link, roles, proofing). Such users have no password.
        None when the account has been disabled here."""
        if proofing not in PROOFING_LEVELS:
            raise ValueError(f"The proofing level is one of {', '.join(PROOFING_LEVELS)}, not {proofing!r}.")
        with self.db.connect() as c:
            row = c.one("SELECT disabled FROM auth_users WHERE name = ?", (name,))
            if row is not None and row[0]:
                return None
            if row is None:
                c.run("INSERT INTO auth_users (name, password_hash, patient, practitioner, org, roles, created) "
                      "VALUES (?, NULL, ?, ?, ?, ?, ?)",
                      (name, patient, practitioner, org, json.dumps(list(roles)), int(self.now())))
            else:
                c.run("UPDATE auth_users SET patient = ?, practitioner = ?, org = ?, roles = ? WHERE name = ?",
                      (patient, practitioner, org, json.dumps(list(roles)), name))
            c.run("DELETE FROM auth_proofing WHERE name = ?", (name,))
            c.run("INSERT INTO auth_proofing (name, level) VALUES (?, ?)", (name, proofing))
        return User(name, patient, practitioner, org, tuple(roles), proofing=proofing)

    def get(self, name: str) -> User | None:
        row = self.db.one(f"{_SELECT} WHERE u.name = ?", (name,))
        return _user(row) if row else None

    def list(self) -> list[User]:
        rows = self.db.all(f"{_SELECT} ORDER BY u.created, u.name")
        return [_user(r) for r in rows]

    def usable(self, name: str) -> bool:
        """Neither disabled nor locked out at this moment."""
        row = self.db.one("SELECT disabled, locked_until FROM auth_users WHERE name = ?", (name,))
        return row is not None and not row[0] and row[1] <= int(self.now())

    def fail(self, name: str) -> None:
        """Count a failed attempt that is not the password's (a wrong second-factor code)."""
        with self.db.connect() as c:
            row = c.one("SELECT failures FROM auth_users WHERE name = ?", (name,))
            if row is not None:
                self._count_failure(c, name, row[0], int(self.now()))

    @staticmethod
    def _count_failure(c, name: str, failures: int, now: int) -> None:
        failures += 1
        locked = now + LOCK_SECONDS if failures >= MAX_FAILURES else 0
        c.run("UPDATE auth_users SET failures = ?, locked_until = ? WHERE name = ?",
              (0 if locked else failures, locked, name))

    def disable(self, name: str) -> bool:
        return self.db.run("UPDATE auth_users SET disabled = 1 WHERE name = ?", (name,)) > 0

    def verify(self, name: str, password: str) -> User:
        """The user when the password is right and the account usable; SignInRefused otherwise.

        A hash is computed even for an unknown name, so timing does not tell which names exist."""
        now = int(self.now())
        refused = False
        with self.db.connect() as c:  # the failure count is committed before refusing
            row = c.one("SELECT password_hash, disabled, failures, locked_until FROM auth_users WHERE name = ?",
                        (name,))
            stored = row[0] if row and row[0] else _DUMMY
            try:
                ok = _HASHER.verify(stored, password) and row is not None and bool(row[0])
            except (VerificationError, InvalidHashError):
                ok = False
            if row is None or row[1] or row[3] > now:
                refused = True
            elif not ok:
                self._count_failure(c, name, row[2], now)
                refused = True
            elif row[2]:
                c.run("UPDATE auth_users SET failures = 0 WHERE name = ?", (name,))
        if refused:
            raise SignInRefused
        user = self.get(name)
        assert user is not None
        return user


_SELECT = ("SELECT u.name, u.patient, u.practitioner, u.org, u.roles, u.disabled, p.level FROM auth_users u "
           "LEFT JOIN auth_proofing p ON p.name = u.name")


def _user(row: tuple) -> User:
    return User(row[0], row[1], row[2], row[3], tuple(json.loads(row[4] or "[]")), bool(row[5]), row[6] or "P0")
