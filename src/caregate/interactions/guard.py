"""The scope layer in front of every interaction (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).

With no actor (the server runs with `--no-auth`) every check passes. Otherwise the actor's scopes must grant
the interaction on the type (403 otherwise), and `patient/` scopes and scope query constraints bound what is
reached: searches and history get the bounds as SQL, single resources outside them answer 404 as if absent.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

import orjson

from caregate.errors import FhirError
from caregate.fhir.definitions import patient_compartment, resource_types
from caregate.interactions.context import RequestContext
from caregate.interactions.owner import read_owner
from caregate.policy import Access, Actor, access, interaction_letter
from caregate.policy.purpose import SECONDARY
from caregate.policy.relationships import viewer_of
from caregate.search.match import match
from caregate.search.query import Clause, SearchQuery, TokenValue, parse
from caregate.search.viewer import Viewer

UNBOUNDED = Access(True)


def forbidden(message: str) -> FhirError:
    """403 with the RFC 6750 challenge a client needs to ask for more scope (section 3.1)."""
    return FhirError("forbidden", message, headers={
        "WWW-Authenticate": 'Bearer error="insufficient_scope", error_description="' + message.replace('"', "'")
                            + '"'})


def permit(ctx: RequestContext, type_: str, interaction: str) -> Access:
    """The decision for `interaction` on `type_`, raising 403 when the scopes never allow it."""
    if ctx.actor is None:
        return UNBOUNDED
    decision = access(ctx.actor, type_, interaction_letter(interaction))
    if not decision.allowed:
        raise forbidden(decision.reason)
    roles_allow(ctx, type_, interaction_letter(interaction))
    return decision


def roles_allow(ctx: RequestContext, type_: str, letter: str) -> None:
    """The access policy's roles deny on top of the scopes (403 naming the rule); "Resource" means every type."""
    if ctx.policy is not None and ctx.actor is not None:
        why = ctx.policy.denial(ctx.actor, type_, letter, ctx.purpose)
        if why is not None:
            raise FhirError("forbidden", why)


def permit_types(ctx: RequestContext, types: list[str] | None, interaction: str) -> Access:
    """A decision for a search or history over several types (None: every type the scopes name)."""
    if ctx.actor is None:
        return UNBOUNDED
    if not types:
        letter = interaction_letter(interaction)
        if not any(s.type == "*" and letter in s.letters for s in ctx.actor.scopes):
            raise forbidden("Searching every type needs a '*' scope; name the types with _type.")
        types = ["Resource"]
    patient = None
    for type_ in types:
        decision = access(ctx.actor, type_, interaction_letter(interaction)) if type_ != "Resource" else \
            _wildcard(ctx, interaction)
        if not decision.allowed:
            raise forbidden(decision.reason)
        if decision.constraints:
            raise forbidden(f"The scopes on {type_} carry query constraints: search that type on its own.")
        roles_allow(ctx, type_, interaction_letter(interaction))
        patient = patient or decision.patient
    return Access(True, patient)


def permit_everything(ctx: RequestContext, interaction: str) -> None:
    """For operations whose answers may carry resources of any type (subscription notifications): a `*` scope
    granting the interaction without a patient bound is needed (403 otherwise). A caller whose reads are
    narrowed further (a member of staff's relationships and Consents, the opt-out) reaches only the
    subscriptions they own (`owner_only`), whose notifications their own bounds already filter."""
    if ctx.actor is None:
        return
    decision = _wildcard(ctx, interaction)
    if not decision.allowed or decision.patient is not None:
        raise forbidden("This operation can return resources of any type: it needs user/*.r or system/*.r (or "
                        "wider) scopes.")
    roles_allow(ctx, "Resource", interaction_letter(interaction))


def owner_only(actor: Actor | None, purpose: str) -> str | None:
    """The subject whose own subscriptions alone a caller of the subscription operations reaches: one bound by
    relationships, patients' Consents or the National Data Opt-out (None: no such bound). Another owner's
    notifications carry what that owner may read, which may be more."""
    if actor is None or (viewer_of(actor, purpose) is None and purpose not in SECONDARY):
        return None
    return actor.subject


def _wildcard(ctx: RequestContext, interaction: str) -> Access:
    letter = interaction_letter(interaction)
    assert ctx.actor is not None
    wild = [s for s in ctx.actor.scopes if s.type == "*" and letter in s.letters]
    if any(s.context != "patient" and not s.query for s in wild):
        return UNBOUNDED
    if ctx.actor.patient is None:
        return Access(False, reason="patient/ scopes need a patient in context, and this token has none.")
    return Access(True, ctx.actor.patient)


def bound_query(ctx: RequestContext, decision: Access, query: SearchQuery) -> None:
    """Add the decision's bounds to a search: compartment confinement and the scope's query constraint."""
    query.confine = decision.patient
    query.refused = refused(ctx)
    query.viewer = viewer(ctx, decision)
    query.hidden = hidden(ctx)
    if not decision.constraints:
        return
    if len(decision.constraints) > 1:
        raise forbidden(f"The scopes on {query.type} carry different query constraints; ask for one of them.")
    extra = parse(query.type, list(decision.constraints[0]), ctx.registry, strict=True, base_url=ctx.base_url)
    query.clauses.extend(extra.clauses)


def refused(ctx: RequestContext) -> str | None:
    """The purpose whose refusal (a National Data Opt-out) puts patients out of reach of this request: research
    and planning (HRESCH, HOPERAT) honour it; direct care and legally mandated uses (e.g. PUBHLTH) do not."""
    return ctx.purpose if ctx.purpose in SECONDARY else None


def hidden(ctx: RequestContext) -> tuple[tuple[str, ...], ...]:
    """The security labels whose resources this request may not reach (policy/rules.py), withheld in SQL as if
    they did not exist; break-glass lifts all but the absolute ones."""
    return ctx.policy.sight(ctx.actor, ctx.purpose).hidden if ctx.policy is not None else ()


def viewer(ctx: RequestContext, decision: Access) -> Viewer | None:
    """The member of staff whose relationships bound a `user/` scope request (policy/relationships.py); a
    `patient/` scope is already confined to the patient the launch named."""
    found = viewer_of(ctx.actor, ctx.purpose) if decision.patient is None else None
    if found is not None and found.kinds and ctx.policy is not None and ctx.actor is not None:
        found = replace(found, kinds=ctx.policy.relationship_kinds(ctx.actor, found.kinds))  # the roles' kinds
    return found


def check_reached_types(ctx: RequestContext, query: SearchQuery) -> None:
    """Chains and `_has` read other types to decide a match: the scopes must allow searching those too, or a
    match would hint at what they hold (403 otherwise)."""
    if ctx.actor is None:
        return
    for clause in query.clauses:
        _check_clause_types(ctx, clause)


def _check_clause_types(ctx: RequestContext, clause: Clause) -> None:
    if clause.chain is not None:
        targets, inner = clause.chain
        for t in targets:
            permit(ctx, t, "search-type")
        _check_clause_types(ctx, inner)
    if clause.has is not None:
        other, _param, inner = clause.has
        permit(ctx, other, "search-type")
        _check_clause_types(ctx, inner)


def readable_included(ctx: RequestContext, query: SearchQuery, type_: str) -> bool:
    """Whether an `_include`d or `_revinclude`d resource of `type_` may be returned: its type must be readable,
    and within the same bounds the search already applied (anything narrower is left out)."""
    if ctx.actor is None:
        return True
    decision = access(ctx.actor, type_, "r")
    if not decision.allowed or decision.constraints:
        return False
    if ctx.policy is not None and ctx.policy.denial(ctx.actor, type_, "r", ctx.purpose) is not None:
        return False
    return decision.patient is None or decision.patient == query.confine


def bounded(ctx: RequestContext, decision: Access) -> bool:
    """Whether anything narrows what the decision reaches: a patient compartment, a scope constraint, the
    opt-out, a member of staff's relationships and patients' Consents, or labels withheld."""
    return (decision.patient is not None or bool(decision.constraints) or refused(ctx) is not None
            or viewer(ctx, decision) is not None or bool(hidden(ctx)))


async def visible(ctx: RequestContext, decision: Access, type_: str, id_: str) -> bool:
    """Whether the current version of `type_/id_` lies within the decision's bounds (one indexed query)."""
    if not bounded(ctx, decision):
        return True
    if type_ == "Subscription" and not await _owned(ctx, id_):
        return False
    query = SearchQuery(type_)
    query.clauses.append(_id_clause(ctx, type_, id_))
    bound_query(ctx, decision, query)
    query.total = "none"
    page = await ctx.store.search(query, 1)
    return bool(page.items)


async def _owned(ctx: RequestContext, id_: str) -> bool:
    """A caller confined to their own subscriptions (`owner_only`) does not reach another's Subscription by id:
    reading, updating (which would make them its owner and redirect it), patching or deleting it answers as if
    it did not exist."""
    subject = owner_only(ctx.actor, ctx.purpose)
    if subject is None:
        return True
    stored = await ctx.store.read("Subscription", id_)
    if stored is None or stored.deleted:
        return True
    owner = read_owner(orjson.loads(stored.json))
    return owner is not None and owner[0].subject == subject


async def confine_subscriptions(ctx: RequestContext, query: SearchQuery, types: list[str] | None) -> list[str] | None:
    """A search by a caller confined to their own subscriptions (`owner_only`) reaches only those: a search of
    Subscription gets an `_id` clause naming them (so total and paging count them alone), and a search across
    several types leaves Subscription out. Returns the types to search (`types` when unchanged). Others'
    subscriptions would tell who subscribes and their criteria, which name patients."""
    subject = owner_only(ctx.actor, ctx.purpose)
    if subject is None:
        return types
    if query.type == "Subscription" or (query.type is None and types == ["Subscription"]):
        owned = await _owned_ids(ctx, subject)
        param = ctx.registry.get("Subscription", "_id")
        assert param is not None
        # "!" is in no id (ids are letters, digits, '-' and '.'): a clause that matches nothing when none is owned
        query.clauses.append(Clause("_id", param, None, tuple(TokenValue(None, i) for i in owned or ["!"])))
        return types
    if query.type is None and (not types or "Subscription" in types):
        return sorted(t for t in (types or resource_types()) if t != "Subscription")
    return types


async def _owned_ids(ctx: RequestContext, subject: str) -> list[str]:
    """The ids of the Subscriptions whose recorded owner is `subject` (a scan: subscriptions are few)."""
    owned: list[str] = []
    scan = SearchQuery("Subscription")
    scan.total = "none"
    while True:
        page = await ctx.store.search(scan, 1000)
        for stored in page.items:
            owner = read_owner(orjson.loads(stored.json))
            if owner is not None and owner[0].subject == subject:
                owned.append(stored.id)
        if not page.next_cursor:
            return owned
        scan.cursor = page.next_cursor


async def visible_ids(ctx: RequestContext, decision: Access, type_: str, ids: set[str]) -> set[str]:
    """Which of the resources `type_/id` (current versions) lie within the decision's bounds: one query."""
    if not bounded(ctx, decision) or not ids:
        return set(ids)
    query = SearchQuery(type_)
    param = ctx.registry.get(type_, "_id")
    assert param is not None
    query.clauses.append(Clause("_id", param, None, tuple(TokenValue(None, i) for i in sorted(ids))))
    bound_query(ctx, decision, query)
    query.total = "none"
    page = await ctx.store.search(query, len(ids))
    return {s.id for s in page.items}


async def check_visible(ctx: RequestContext, decision: Access, type_: str, id_: str) -> None:
    """404 as if absent for a resource outside the bounds, deleted or not (no hint that it exists)."""
    if not await visible(ctx, decision, type_, id_):
        raise FhirError("not-found", f"{type_}/{id_} does not exist.")


def check_body_within(ctx: RequestContext, decision: Access, type_: str, resource: dict) -> None:
    """A write under bounded scopes must leave the resource inside them (403 otherwise)."""
    if decision.patient is not None:
        if type_ == "Patient":
            inside = resource.get("id") == decision.patient
        else:
            codes = patient_compartment().get(type_, ())
            query = SearchQuery(type_, compartment=("Patient", decision.patient, codes))
            inside = bool(codes) and match(query, resource, registry=ctx.registry)
        if not inside:
            raise forbidden(f"The {type_} would not be in Patient/{decision.patient}'s compartment, which is all "
                            "the granted patient/ scopes reach.")
    for constraint in decision.constraints:
        query = parse(type_, list(constraint), ctx.registry, strict=True, base_url=ctx.base_url)
        if match(query, resource, registry=ctx.registry):
            return
    if decision.constraints:
        raise forbidden(f"The {type_} does not meet the scope constraint ({urlencode(decision.constraints[0])}).")


def _id_clause(ctx: RequestContext, type_: str, id_: str) -> Clause:
    param = ctx.registry.get(type_, "_id")
    assert param is not None
    return Clause("_id", param, None, (TokenValue(None, id_),))
