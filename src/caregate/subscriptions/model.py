"""R4 Subscription resources with the backport profile, read into plain data.

The Subscriptions R5 Backport IG (http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition-backport-subscription.html)
keeps the R4 Subscription and moves the R5 meaning into it: `criteria` is the topic's canonical URL, each
`_criteria.extension[backport-filter-criteria]` is one filter (`Observation?patient=Patient/123`; the older
`Encounter.patient=Patient/123` form is read too), `channel.type` is the channel, `channel.header` the
HTTP headers, `channel._payload.extension[backport-payload-content]` the content (`empty`, `id-only`,
`full-resource`), and the heartbeat, timeout and max-count live in `channel.extension`.

`read_spec` is lenient (what a stored resource says, with the reason it cannot be served); `check` is the
strict form the REST layer applies to writes, so a client learns at once that a topic or filter is wrong.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from caregate.errors import FhirError, Issue
from caregate.interactions.owner import read_owner
from caregate.policy import Actor
from caregate.search.match import Indexed, Matcher, compile_matcher
from caregate.search.query import parse
from caregate.subscriptions.topics import Topic, TopicCatalog

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport"
SD = f"{BACKPORT}/StructureDefinition/"
EXT_FILTER = SD + "backport-filter-criteria"
EXT_CONTENT = SD + "backport-payload-content"
EXT_HEARTBEAT = SD + "backport-heartbeat-period"
EXT_TIMEOUT = SD + "backport-timeout"
EXT_MAX_COUNT = SD + "backport-max-count"
EXT_CHANNEL_TYPE = SD + "backport-channel-type"
PROFILE_SUBSCRIPTION = SD + "backport-subscription"
PROFILE_STATUS = SD + "backport-subscription-status-r4"
PROFILE_NOTIFICATION = SD + "backport-subscription-notification-r4"
CONTENTS = ("empty", "id-only", "full-resource")
CHANNELS = ("rest-hook", "websocket")


@dataclass(frozen=True, slots=True)
class Spec:
    """What one Subscription version asks for. `problem` says why it cannot be served (None: it can)."""

    id: str
    status: str
    topic_url: str
    topic: Topic | None
    filters: tuple[str, ...]
    channel: str
    endpoint: str
    headers: tuple[tuple[str, str], ...]
    content: str
    heartbeat: int  # seconds, 0: none
    timeout: float | None
    max_count: int | None
    end: float | None  # POSIX seconds when the subscription ends
    error: str = ""  # R4 `Subscription.error`: the server's last word on why it is in error
    problem: str | None = None
    owner: tuple[Actor, str] | None = None  # who wrote it, and for which purpose (interactions/owner.py)

    @property
    def criteria_key(self) -> tuple[object, ...]:
        """What the event numbering depends on: a change of topic, filters or owner (whose rights bound
        what is delivered) starts a new count."""
        who = None
        if self.owner is not None:
            actor, purpose = self.owner
            who = (actor.subject, actor.client_id, actor.scope_string, actor.patient, actor.fhir_user, actor.roles,
                   actor.org, purpose)
        return self.topic_url, tuple(sorted(self.filters)), who

    def expired(self, now: float) -> bool:
        return self.end is not None and now >= self.end


def _ext(node: object, url: str) -> object:
    if isinstance(node, dict):
        for ext in node.get("extension") or ():
            if isinstance(ext, dict) and ext.get("url") == url:
                return next((v for k, v in ext.items() if k.startswith("value")), None)
    return None


def _end(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _headers(raw: object) -> tuple[tuple[str, str], ...]:
    out = []
    for line in raw if isinstance(raw, list) else ():
        name, sep, value = str(line).partition(":")
        if sep and name.strip() and "\n" not in line and "\r" not in line:
            out.append((name.strip(), value.strip()))
    return tuple(out)


def read_spec(resource: dict, catalog: TopicCatalog) -> Spec:
    """The Subscription as data; problems (unknown topic, bad filter, disallowed endpoint) go in `problem`."""
    channel = resource.get("channel") if isinstance(resource.get("channel"), dict) else {}
    assert isinstance(channel, dict)
    criteria = resource.get("criteria") if isinstance(resource.get("criteria"), str) else ""
    assert isinstance(criteria, str)
    filters = []
    for ext in (resource.get("_criteria") or {}).get("extension") or ():
        if isinstance(ext, dict) and ext.get("url") == EXT_FILTER and isinstance(ext.get("valueString"), str):
            filters.append(ext["valueString"])
    content = _ext(channel.get("_payload"), EXT_CONTENT)
    if content is None:
        content = "id-only" if channel.get("payload") else "empty"
    heartbeat, timeout, max_count = (_ext(channel, u) for u in (EXT_HEARTBEAT, EXT_TIMEOUT, EXT_MAX_COUNT))
    channel_type = str(channel.get("type") or "")
    custom = _ext(channel.get("_type"), EXT_CHANNEL_TYPE)  # a channel R4 has no code for (backport-channel-type)
    if isinstance(custom, dict) and custom.get("code"):
        channel_type = str(custom["code"])
    spec = Spec(
        id=str(resource.get("id") or ""), status=str(resource.get("status") or "requested"), topic_url=criteria,
        topic=catalog.find(criteria), filters=tuple(filters), channel=channel_type,
        endpoint=str(channel.get("endpoint") or ""), headers=_headers(channel.get("header")), content=str(content),
        heartbeat=heartbeat if isinstance(heartbeat, int) and heartbeat > 0 else 0,
        timeout=float(timeout) if isinstance(timeout, int) and timeout > 0 else None,
        max_count=max_count if isinstance(max_count, int) and max_count > 0 else None,
        end=_end(resource.get("end")), error=str(resource.get("error") or ""), owner=read_owner(resource))
    issues = _issues(spec, catalog)
    if issues:
        return replace(spec, problem=issues[0].diagnostics)
    return spec


def check(resource: object, catalog: TopicCatalog) -> None:
    """Refuse (422) a Subscription this server could never serve, naming each problem."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Subscription":
        return  # the interaction itself reports a body of the wrong shape
    issues = _issues(read_spec(resource, catalog), catalog, strict=True) + _shape_issues(resource)
    if issues:
        raise FhirError("invalid", issues[0].diagnostics, issues[0].expression, extra=issues[1:])


def _issues(spec: Spec, catalog: TopicCatalog, strict: bool = False) -> list[Issue]:
    issues: list[Issue] = []
    if spec.topic is None:
        known = ", ".join(catalog.urls)
        issues.append(Issue(f"Subscription.criteria must be the canonical URL of a topic this server offers "
                            f"({known}); got {spec.topic_url!r}.", expression=("Subscription.criteria",)))
    else:
        for text in spec.filters:
            try:
                compile_filter(text, spec.topic, catalog)
            except FhirError as exc:
                issues.append(Issue(exc.message, expression=("Subscription.criteria.extension",)))
    if spec.channel not in CHANNELS:
        issues.append(Issue(f"Subscription.channel.type {spec.channel!r} is not supported; use rest-hook or "
                            "websocket.", expression=("Subscription.channel.type",)))
    elif spec.channel == "rest-hook":
        problem = endpoint_problem(spec.endpoint)
        if problem:
            issues.append(Issue(problem, expression=("Subscription.channel.endpoint",)))
    if spec.content not in CONTENTS:
        issues.append(Issue(f"The payload content {spec.content!r} is not one of {', '.join(CONTENTS)}.",
                            expression=("Subscription.channel.payload",)))
    if strict and spec.status not in ("requested", "active", "error", "off"):
        issues.append(Issue(f"Subscription.status is requested, active, error or off, not {spec.status!r}.",
                            expression=("Subscription.status",)))
    return issues


def _shape_issues(resource: dict) -> list[Issue]:
    """What R4 requires of every Subscription (https://hl7.org/fhir/R4/subscription.html) and what this server
    can send: `reason` (1..1), notifications as FHIR JSON, a valid `end` and well-typed channel extensions."""
    issues = []
    if not isinstance(resource.get("reason"), str) or not resource["reason"].strip():
        issues.append(Issue("Subscription.reason is required (why the subscription is made).",
                            expression=("Subscription.reason",)))
    channel = resource.get("channel") if isinstance(resource.get("channel"), dict) else {}
    assert isinstance(channel, dict)
    mime = channel.get("payload")
    if mime is not None and str(mime).split(";")[0].strip() != "application/fhir+json":
        issues.append(Issue(f"Subscription.channel.payload {mime!r} is not offered; notifications are "
                            "application/fhir+json.", expression=("Subscription.channel.payload",)))
    if "end" in resource and _end(resource.get("end")) is None:
        issues.append(Issue(f"Subscription.end {resource.get('end')!r} is not an instant.",
                            expression=("Subscription.end",)))
    for url, kind in ((EXT_HEARTBEAT, "unsigned"), (EXT_TIMEOUT, "unsigned"), (EXT_MAX_COUNT, "positive")):
        found = [e for e in channel.get("extension") or () if isinstance(e, dict) and e.get("url") == url]
        for ext in found:
            value = ext.get("valuePositiveInt" if kind == "positive" else "valueUnsignedInt")
            least = 1 if kind == "positive" else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                name = url.rsplit("/", 1)[1]
                issues.append(Issue(f"The {name} extension takes a value{'Positive' if least else 'Unsigned'}Int.",
                                    expression=(f"Subscription.channel.extension('{url}')",)))
    return issues


def endpoint_problem(endpoint: str) -> str | None:
    """rest-hook endpoints are HTTPS; plain HTTP only to a loopback address (for development)."""
    parts = urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname:
        if parts.hostname == "localhost":
            return None
        try:
            if ipaddress.ip_address(parts.hostname).is_loopback:
                return None
        except ValueError:
            pass
        return (f"Subscription.channel.endpoint {endpoint!r} uses plain HTTP to a host that is not a loopback "
                "address; use https://.")
    return f"Subscription.channel.endpoint {endpoint!r} must be an absolute https:// URL."


# --------------------------------------------------------------------------------------------- filters


def split_filter(text: str) -> tuple[str | None, list[tuple[str, str]]]:
    """`Observation?patient=Patient/123&code=x`, `Encounter.patient=Patient/123` or `patient=Patient/123`."""
    head, sep, query = text.strip().partition("?")
    if sep:
        return head or None, parse_qsl(query, keep_blank_values=True)
    name, eq, value = text.strip().partition("=")
    rtype, dot, param = name.partition(".")
    if eq and dot and rtype[:1].isupper():
        return rtype, [(param, value)]
    return None, parse_qsl(text.strip(), keep_blank_values=True)


@dataclass(frozen=True, slots=True)
class Filter:
    """One compiled filter: the resource type it applies to (None: every type of the topic) and its matcher."""

    resource_type: str | None
    matchers: dict[str, Matcher]


def compile_filter(text: str, topic: Topic, catalog: TopicCatalog) -> Filter:
    """Compile one backport filter against what the topic allows (`canFilterBy`); FhirError when it cannot."""
    rtype, pairs = split_filter(text)
    types = [rtype] if rtype else sorted(topic.resource_types)
    if rtype is not None and rtype not in topic.resource_types:
        raise FhirError("invalid", f"The filter {text!r} names {rtype}, which topic {topic.name} is not about "
                                   f"({', '.join(sorted(topic.resource_types))}).")
    if not pairs or any(not name or not value for name, value in pairs):
        raise FhirError("invalid", f"The filter {text!r} is not of the form Type?parameter=value.")
    matchers = {}
    for t in types:
        allowed = topic.filters.get(t, ())
        for name, _ in pairs:
            code = name.split(":", 1)[0]
            if code not in allowed or "." in name:
                raise FhirError("invalid", f"Topic {topic.name} allows filtering {t} by {', '.join(allowed)}; "
                                           f"not by {name!r}.")
        query = parse(t, pairs, catalog.registry, strict=True, base_url=catalog.base_url)
        matchers[t] = compile_matcher(query, registry=catalog.registry)
    return Filter(rtype, matchers)


class FilterSet:
    """A subscription's filters, ANDed. A filter naming a type applies to that type only; once any filter
    names types, resources of the topic's other types are not delivered (the subscriber narrowed the topic
    to what it filters, rather than receiving every patient's resources of the types it did not filter)."""

    __slots__ = ("_filters", "_named")

    def __init__(self, spec: Spec, catalog: TopicCatalog) -> None:
        assert spec.topic is not None
        self._filters = [compile_filter(f, spec.topic, catalog) for f in spec.filters]
        self._named = {f.resource_type for f in self._filters if f.resource_type is not None}

    def __call__(self, resource_type: str, item: Indexed) -> bool:
        if self._named and resource_type not in self._named:
            return False
        for f in self._filters:
            matcher = f.matchers.get(resource_type)
            if f.resource_type in (None, resource_type) and matcher is not None and not matcher(item):
                return False
        return True
