"""EHR launch contexts (SMART App Launch 2.x, app-launch.html#launch-app-ehr-launch).

The EHR side creates a launch for one registered app and one patient (and optionally an encounter), and
hands the app its opaque id as the `launch` parameter. The authorization endpoint accepts the id only for
that app and only for a few minutes, and the token response then carries the context it stands for. Ids are
stored hashed, beside the authorization codes, so a copy of the database does not reveal usable ones.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from caregate.auth.db import AuthDb

LAUNCH_LIFETIME = 300


@dataclass(frozen=True, slots=True)
class LaunchContext:
    client_id: str
    patient: str
    encounter: str | None = None


def _key(launch: str) -> str:
    return "l:" + hashlib.sha256(launch.encode()).hexdigest()


class LaunchContexts:
    def __init__(self, db: AuthDb, now: Callable[[], float] = time.time) -> None:
        self.db = db
        self.now = now

    def create(self, client_id: str, patient: str, encounter: str | None = None,
               lifetime: int = LAUNCH_LIFETIME) -> str:
        """A new opaque launch id for `client_id`, standing for the patient (and encounter) in context."""
        launch = secrets.token_urlsafe(24)
        now = int(self.now())
        data = {"client_id": client_id, "patient": patient, "encounter": encounter}
        with self.db.connect() as c:
            c.run("DELETE FROM auth_codes WHERE exp < ?", (now,))
            c.run("INSERT INTO auth_codes (code_hash, data, exp) VALUES (?, ?, ?)",
                  (_key(launch), json.dumps(data), now + lifetime))
        return launch

    def resolve(self, launch: str, client_id: str) -> LaunchContext | None:
        """The context of a launch id, or None when it is unknown, expired or was made for another app.

        It is not used up here: the user may reload the sign-in page, and an expired id is useless anyway."""
        if not launch:
            return None
        row = self.db.one("SELECT data, exp FROM auth_codes WHERE code_hash = ?", (_key(launch),))
        if row is None or row[1] < int(self.now()):
            return None
        data = json.loads(row[0])
        if data.get("client_id") != client_id:
            return None
        return LaunchContext(data["client_id"], data["patient"], data.get("encounter"))
