"""The authorization server's parts, put together for one database and one public FHIR base."""

from __future__ import annotations

import time
from collections.abc import Callable

from caregate.auth.bearer import BearerValidator
from caregate.auth.clients import ClientRegistry
from caregate.auth.db import AuthDb
from caregate.auth.keys import SigningKeys
from caregate.auth.launches import LaunchContexts
from caregate.auth.tokens import ACCESS_LIFETIME, TokenIssuer, grantable, issuer_and_audience
from caregate.auth.totp import SecondFactor
from caregate.auth.users import UserDirectory


class GrantRefused(Exception):
    """A token cannot be issued as asked (unknown client or user, no grantable scope)."""


class AuthService:
    def __init__(self, database_url: str, fhir_base: str, now: Callable[[], float] = time.time) -> None:
        self.db = AuthDb(database_url)
        self.now = now
        self.keys = SigningKeys(self.db, now)
        self.clients = ClientRegistry(self.db)
        self.users = UserDirectory(self.db, now)
        self.second_factor = SecondFactor(self.db, now)
        self.launches = LaunchContexts(self.db, now)
        self.issuer, self.audience = issuer_and_audience(fhir_base)
        self.tokens = TokenIssuer(self.keys, self.issuer, self.audience, now)
        self.bearer = BearerValidator(self.db, self.keys, self.issuer, self.audience, now)

    def remember_base(self) -> None:
        """Record the public FHIR base, so `caregate token issue` signs tokens for the running server."""
        with self.db.connect() as c:
            c.run("DELETE FROM auth_meta WHERE name = 'fhir_base'")
            c.run("INSERT INTO auth_meta (name, value) VALUES ('fhir_base', ?)", (self.audience,))

    @staticmethod
    def remembered_base(database_url: str) -> str | None:
        row = AuthDb(database_url).one("SELECT value FROM auth_meta WHERE name = 'fhir_base'")
        return row[0] if row else None

    def issue(self, client_id: str, scope: str, *, user: str | None = None, patient: str | None = None,
              lifetime: int = ACCESS_LIFETIME) -> tuple[str, dict]:
        """An access token as the token endpoint would give one: only scopes the client is registered for.

        With a user, the token acts for that user (a patient user brings their own patient); with a patient
        and no user, it acts as that patient."""
        client = self.clients.get(client_id)
        if client is None:
            raise GrantRefused(f"No client with id {client_id!r} is registered.")
        granted = grantable(scope, client.scope)
        if not granted:
            raise GrantRefused(f"None of the requested scopes is registered for client {client_id!r} "
                               f"(registered: {client.scope}).")
        subject, fhir_user, roles, proofing, org = client_id, None, (), None, None
        if user is not None:
            person = self.users.get(user)
            if person is None or person.disabled:
                raise GrantRefused(f"No active user named {user!r}.")
            if person.patient and patient and patient != person.patient:
                raise GrantRefused(f"User {user!r} is a patient user: their patient is {person.patient}.")
            subject, fhir_user, roles, proofing = person.name, person.fhir_user, person.roles, person.proofing
            org = person.org
            patient = patient or person.patient
        elif patient is not None:
            subject = fhir_user = f"Patient/{patient}"
        return self.tokens.access_token(client_id=client_id, subject=subject, scope=granted, patient=patient,
                                        fhir_user=fhir_user, lifetime=lifetime, roles=roles, proofing=proofing,
                                        org=org)
