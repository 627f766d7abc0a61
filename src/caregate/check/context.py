"""What a test works with: the client, the server's declared capability, and sample data shared between tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from caregate.check.backend import BackendCredentials
from caregate.check.capability import Capability
from caregate.check.client import FhirClient, body_json
from caregate.check.model import Failed, Skipped
from caregate.check.samples import TEMPLATES, dependencies


@dataclass
class CheckContext:
    client: FhirClient
    cap: Capability
    read_only: bool = False
    receiver_host: str = "127.0.0.1"
    backend: BackendCredentials | None = None
    patient_token: str | None = None
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    findings: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    _samples: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)

    def sample(self, type_: str) -> dict[str, Any]:
        """A resource of `type_` to test with: one the checker creates (when writes are allowed) or one it finds."""
        if type_ not in self._samples:
            self._samples[type_] = self._find(type_) if self.read_only else self._create(type_)
        found = self._samples[type_]
        if found is None:
            raise Skipped(f"no {type_} to test with" + (" on the server (read-only mode)" if self.read_only else ""))
        return found

    def refresh(self, type_: str) -> None:
        """Read the sample of `type_` back after a test changed it, so later tests see what the server holds."""
        current = self._samples.get(type_)
        if current:
            r = self.client.get(f"{type_}/{current['id']}")
            fresh = body_json(r)
            if r.status_code == 200 and isinstance(fresh, dict) and fresh.get("id") == current["id"]:
                self._samples[type_] = fresh

    def _find(self, type_: str) -> dict[str, Any] | None:
        if not self.cap.supports(type_, "search-type"):
            return None
        r = self.client.get(type_, params={"_count": "1"})
        bundle = body_json(r)
        if r.status_code != 200 or not isinstance(bundle, dict):
            return None
        return next((e["resource"] for e in bundle.get("entry") or []
                     if isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == type_), None)

    def _create(self, type_: str) -> dict[str, Any] | None:
        if type_ not in TEMPLATES or not self.cap.supports(type_, "create"):
            return self._find(type_)
        refs = {dep: self.sample(dep)["id"] for dep in dependencies(type_)}
        body = TEMPLATES[type_](self.run_id, refs)
        r = self.client.post(type_, body, headers={"Prefer": "return=representation"})
        if r.status_code not in (200, 201):
            raise Failed(f"creating a {type_} to test with was answered {r.status_code}")
        created = body_json(r)
        if not isinstance(created, dict) or not created.get("id"):
            location = r.headers.get("location", "")
            parts = location.split("/_history")[0].rstrip("/").split("/")
            if len(parts) < 2 or parts[-2] != type_:
                raise Failed(f"creating a {type_} returned neither the resource nor a Location")
            got = self.client.get(f"{type_}/{parts[-1]}")
            created = body_json(got)
            if got.status_code != 200 or not isinstance(created, dict):
                raise Failed(f"the {type_} just created could not be read back")
        self.created.append(f"{type_}/{created['id']}")
        return created

    def create(self, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a resource for one test (cleaned up at the end); Failed when the server will not."""
        r = self.client.post(type_, body, headers={"Prefer": "return=representation"})
        if r.status_code not in (200, 201):
            raise Failed(f"creating a {type_} was answered {r.status_code}")
        created = body_json(r)
        if not isinstance(created, dict) or not created.get("id"):
            location = r.headers.get("location", "")
            rid = location.split("/_history")[0].rstrip("/").split("/")[-1]
            created = {**body, "id": rid}
        self.created.append(f"{type_}/{created['id']}")
        return created

    def cleanup(self) -> None:
        """Delete what the checker created, newest first (best effort)."""
        if self.read_only:
            return
        for ref in reversed(self.created):
            try:
                self.client.delete(ref)
            except Exception:  # cleaning up must not hide the results
                continue
