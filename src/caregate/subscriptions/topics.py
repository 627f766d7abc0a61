"""The subscription topics this server defines, as the Subscriptions R5 Backport IG carries them on R4.

R4 has no SubscriptionTopic resource, so a backport server names its topics by canonical URL
(http://hl7.org/fhir/uv/subscriptions-backport/topics.html) and advertises them in the CapabilityStatement
with the `capabilitystatement-subscriptiontopic-canonical` extension. Each topic here mirrors an R5
SubscriptionTopic (https://hl7.org/fhir/R5/subscriptiontopic.html): resource triggers on create, update
or delete, query criteria on the previous and the current state of the resource (`resultForCreate`,
`resultForDelete`, `requireBoth`), and the filters (`canFilterBy`) a Subscription may narrow it with.

Canonical URLs are `[base]/SubscriptionTopic/[name]`; a Subscription naming another base with the same
`SubscriptionTopic/[name]` tail is still understood, so moving the server does not orphan subscriptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from caregate.interactions.owner import ACCESS_EVENTS
from caregate.search.match import Indexed, Matcher, compile_matcher
from caregate.search.query import parse
from caregate.search.registry import Registry

__all__ = ["BUILTIN_TOPICS", "Topic", "TopicCatalog", "Trigger"]

_LAB_OBSERVATION = "status=final,amended,corrected&category=laboratory"
_LAB_REPORT = "status=final,amended,corrected,appended&category=LAB"


@dataclass(frozen=True, slots=True)
class Trigger:
    """One `SubscriptionTopic.resourceTrigger` (R5): which interactions on which type, and the query
    criteria (search strings such as `status=in-progress`) on the version before and after the change."""

    resource: str
    interactions: frozenset[str]
    previous: str | None = None
    current: str | None = None
    result_for_create: bool = True  # `test-passes`: a create has no previous state to test
    result_for_delete: bool = False  # `test-fails`: a delete has no current state to test
    require_both: bool = True


@dataclass(frozen=True, slots=True)
class Topic:
    """A server-defined topic: its name (the canonical's last segment), triggers and allowed filters."""

    name: str
    title: str
    description: str
    triggers: tuple[Trigger, ...]
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # resource type -> parameter codes

    @property
    def resource_types(self) -> frozenset[str]:
        return frozenset(t.resource for t in self.triggers)

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/SubscriptionTopic/{self.name}"


_CREATE_UPDATE = frozenset({"create", "update"})
BUILTIN_TOPICS: tuple[Topic, ...] = (
    Topic("encounter-admission", "Patient admission",
          "An Encounter becomes in-progress: created in progress, or moved to in-progress from another status.",
          (Trigger("Encounter", _CREATE_UPDATE, previous="status:not=in-progress", current="status=in-progress"),),
          {"Encounter": ("patient", "subject", "class", "type", "location", "service-provider")}),
    Topic("encounter-discharge", "Patient discharge",
          "An Encounter becomes finished: created finished, or moved to finished from another status.",
          (Trigger("Encounter", _CREATE_UPDATE, previous="status:not=finished", current="status=finished"),),
          {"Encounter": ("patient", "subject", "class", "type", "location", "service-provider")}),
    Topic("lab-result", "New or amended laboratory result",
          "A laboratory Observation or DiagnosticReport is written with a final, amended or corrected status.",
          (Trigger("Observation", _CREATE_UPDATE, current=_LAB_OBSERVATION),
           Trigger("DiagnosticReport", _CREATE_UPDATE, current=_LAB_REPORT)),
          {"Observation": ("patient", "subject", "code", "category"),
           "DiagnosticReport": ("patient", "subject", "code", "category")}),
    Topic("allergy-new", "New allergy or intolerance", "An AllergyIntolerance is recorded (created).",
          (Trigger("AllergyIntolerance", frozenset({"create"})),),
          {"AllergyIntolerance": ("patient", "code", "category", "criticality", "clinical-status")}),
    Topic("consent-change", "New or changed consent",
          "A Consent is created, updated or deleted (a deletion withdraws what it allowed).",
          (Trigger("Consent", frozenset({"create", "update", "delete"})),),
          {"Consent": ("patient", "status", "category", "scope")}),
    Topic("break-glass-access", "Break-glass access",
          "Someone reached a patient's record with emergency access (purpose ETREAT): the server's record of it "
          "names the actor (author), the patient (subject), the reason and the time (subscriptions/breakglass.py).",
          (Trigger("Basic", frozenset({"create"}), current=f"code={ACCESS_EVENTS}|break-glass"),),
          {"Basic": ("patient", "subject", "author")}),
)


class _CompiledTrigger:
    """A trigger with its criteria compiled once into in-memory matchers (`caregate.search.match`)."""

    __slots__ = ("current", "previous", "topic", "trigger")

    def __init__(self, topic: Topic, trigger: Trigger, registry: Registry) -> None:
        self.topic = topic
        self.trigger = trigger
        self.previous = _criteria(trigger.resource, trigger.previous, registry)
        self.current = _criteria(trigger.resource, trigger.current, registry)

    def fires(self, method: str, previous: Indexed | None, current: Indexed | None) -> bool:
        """R5 `queryCriteria` semantics: each present test must pass (or one of them without `requireBoth`)."""
        trig = self.trigger
        if method not in trig.interactions:
            return False
        results = []
        if self.previous is not None:
            results.append(trig.result_for_create if previous is None else self.previous(previous))
        if self.current is not None:
            results.append(trig.result_for_delete if current is None else self.current(current))
        if not results:
            return True
        return all(results) if trig.require_both else any(results)


def _criteria(resource_type: str, text: str | None, registry: Registry) -> Matcher | None:
    if not text:
        return None
    pairs = [part.partition("=") for part in text.split("&")]
    query = parse(resource_type, [(k, v) for k, _, v in pairs], registry, strict=True)
    return compile_matcher(query, registry=registry)


def _narrowed(registry: Registry, topics: tuple[Topic, ...]) -> Registry:
    """The parameters the topics' criteria and allowed filters use, and no others: indexing a changed resource
    for them alone gives every row a trigger or filter can test, at a fraction of indexing it for all."""
    entries = []
    for topic in topics:
        for trigger in topic.triggers:
            codes = set(topic.filters.get(trigger.resource, ()))
            for text in (trigger.previous, trigger.current):
                codes.update(part.partition("=")[0].split(":", 1)[0] for part in (text or "").split("&") if part)
            for code in sorted(codes):
                param = registry.get(trigger.resource, code)
                if param is not None:
                    entries.append((trigger.resource, param))
    return Registry(entries)


class TopicCatalog:
    """The topics one server offers, found by canonical URL, with compiled triggers by resource type."""

    def __init__(self, registry: Registry, base_url: str, topics: tuple[Topic, ...] = BUILTIN_TOPICS) -> None:
        self.registry = registry
        self.base_url = base_url.rstrip("/")
        self.topics = topics
        self._by_name = MappingProxyType({t.name: t for t in topics})
        by_type: dict[str, list[_CompiledTrigger]] = {}
        for topic in topics:
            for trigger in topic.triggers:
                by_type.setdefault(trigger.resource, []).append(_CompiledTrigger(topic, trigger, registry))
        self._triggers = MappingProxyType({k: tuple(v) for k, v in by_type.items()})
        self.index_registry = _narrowed(registry, topics)

    @property
    def urls(self) -> list[str]:
        """The canonical URLs to advertise in the CapabilityStatement."""
        return [t.url(self.base_url) for t in self.topics]

    @property
    def resource_types(self) -> frozenset[str]:
        return frozenset(self._triggers)

    def find(self, canonical: str) -> Topic | None:
        """The topic a Subscription's `criteria` names: its canonical URL, optionally with `|version`."""
        url = canonical.split("|", 1)[0].rstrip("/")
        head, sep, name = url.rpartition("/SubscriptionTopic/")
        if not sep or not head or "/" in name:
            return None
        return self._by_name.get(name)

    def url_of(self, topic: Topic) -> str:
        return topic.url(self.base_url)

    def needs_previous(self, resource_type: str) -> bool:
        """Whether some trigger on this type tests the version before the change."""
        return any(c.previous is not None for c in self._triggers.get(resource_type, ()))

    def fired(self, resource_type: str, method: str, previous: Indexed | None,
              current: Indexed | None) -> set[str]:
        """Names of the topics this change triggers (the previous and current versions already indexed)."""
        return {c.topic.name for c in self._triggers.get(resource_type, ()) if c.fires(method, previous, current)}
