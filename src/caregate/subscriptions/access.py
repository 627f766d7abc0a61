"""Whether a subscription's owner may read an event's resource: notifications pass through the access policy.

A subscription is told only what the token that wrote it could read (its owner, recorded in the resource by
caregate.interactions.owner), decided per event on the version that caused it, with the same bounds
caregate.interactions.guard applies to a read:

- the owner's scopes must grant read on the type (`caregate.policy.access`);
- a `patient/` scope reaches only the launch patient's compartment, tested in memory on the version
  (compartmentdefinition-patient through `caregate.search.match`), so a patient's subscription never hears
  of another patient; scope query constraints (`patient/Observation.rs?category=laboratory`) likewise;
- the access policy's roles may refuse the type for the owner's purpose (`Policy.denial`), and security
  labels the owner may not see withhold the resource (`Policy.sight`);
- a staff owner bound by relationships or patients' privacy Consents, or a secondary use bound by the
  National Data Opt-out, is asked of the store like any read (`guard.visible`), as those bounds live in it.

The store-held bounds change with the record (a relationship ends, a Consent is written): they are asked again
when a notification, a websocket frame or an `$events` answer carries the event (`still_readable`), so only
what the owner could read at that moment goes out.

A subscription with no owner was written without authentication (a `--no-auth` server, `caregate load`)
and is bound by nothing, like every request of such a server.
"""

from __future__ import annotations

from caregate.fhir.definitions import patient_compartment
from caregate.interactions.context import RequestContext
from caregate.interactions.guard import hidden, refused, viewer, visible, visible_ids
from caregate.policy import Access, Actor, access
from caregate.policy.rules import Policy
from caregate.search.match import Indexed, match
from caregate.search.query import SearchQuery, parse
from caregate.search.registry import Registry
from caregate.storage.base import ResourceStore


class OwnerAccess:
    """The read bounds of one subscription's owner, applied to each event's focus."""

    def __init__(self, owner: Actor, purpose: str, policy: Policy | None, store: ResourceStore,
                 registry: Registry, base_url: str) -> None:
        self.owner = owner
        self.purpose = purpose
        self.policy = policy
        self.registry = registry
        self.base_url = base_url
        self.ctx = RequestContext(store, registry, base_url, actor=owner, purpose=purpose, policy=policy)
        self._decisions: dict[str, Access] = {}

    def _decision(self, type_: str) -> Access:
        if type_ not in self._decisions:
            decision = access(self.owner, type_, "r")
            if decision.allowed and self.policy is not None and \
                    self.policy.denial(self.owner, type_, "r", self.purpose) is not None:
                decision = Access(False)
            self._decisions[type_] = decision
        return self._decisions[type_]

    async def may_read(self, type_: str, id_: str, focus: Indexed) -> bool:
        decision = self._decision(type_)
        if not decision.allowed:
            return False
        resource = focus.resource
        if decision.patient is not None and not self._in_compartment(type_, focus, decision.patient):
            return False
        if decision.constraints and not any(
                match(parse(type_, list(c), self.registry, strict=True, base_url=self.base_url), focus,
                      registry=self.registry) for c in decision.constraints):
            return False
        if self._withheld(type_, resource):
            return False
        if viewer(self.ctx, decision) is not None or refused(self.ctx) is not None:
            return await visible(self.ctx, decision, type_, id_)
        return True

    async def still_readable(self, type_: str, ids: set[str]) -> set[str]:
        """Which of `type_/id` the owner may read now, as far as bounds held in the store go (relationships,
        Consents, the opt-out); the others were tested on the version itself and cannot change."""
        decision = self._decision(type_)
        if not decision.allowed:
            return set()
        if viewer(self.ctx, decision) is None and refused(self.ctx) is None:
            return set(ids)
        return await visible_ids(self.ctx, decision, type_, ids)

    def _in_compartment(self, type_: str, focus: Indexed, patient: str) -> bool:
        if type_ == "Patient":
            return focus.id == patient
        codes = patient_compartment().get(type_, ())
        query = SearchQuery(type_, compartment=("Patient", patient, codes))
        return bool(codes) and match(query, focus, registry=self.registry)

    def _withheld(self, type_: str, resource: dict) -> bool:
        """A security label the owner may not see is on the version (redacted types count as withheld: a
        notification carries the resource whole or not at all)."""
        labels = hidden(self.ctx)
        if not labels:
            return False
        meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
        assert isinstance(meta, dict)
        on = {(str(c.get("system", "")), str(c.get("code", ""))) for c in meta.get("security") or ()
              if isinstance(c, dict)}
        return any((label[0], label[1]) in on for label in labels)
