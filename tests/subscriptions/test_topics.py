"""Topics, triggers and filters without a database: what fires, what a subscription may ask for."""

from __future__ import annotations

import pytest

from caregate.errors import FhirError
from caregate.search.match import Indexed
from caregate.search.registry import default_registry
from caregate.subscriptions.model import FilterSet, check, endpoint_problem, read_spec, split_filter
from caregate.subscriptions.topics import TopicCatalog
from tests.subscriptions.conftest import BASE, encounter, lab, subscription


@pytest.fixture(scope="module")
def catalog() -> TopicCatalog:
    return TopicCatalog(default_registry(), BASE)


def _fired(catalog: TopicCatalog, rtype: str, method: str, before: dict | None, after: dict | None) -> set[str]:
    registry = catalog.registry
    return catalog.fired(rtype, method, Indexed(before, registry) if before else None,
                         Indexed(after, registry) if after else None)


def test_admission_and_discharge_fire_on_the_status_change_only(catalog: TopicCatalog) -> None:
    planned, active, done = encounter("e", "planned"), encounter("e", "in-progress"), encounter("e", "finished")
    assert _fired(catalog, "Encounter", "create", None, active) == {"encounter-admission"}
    assert _fired(catalog, "Encounter", "create", None, planned) == set()
    assert _fired(catalog, "Encounter", "update", planned, active) == {"encounter-admission"}
    assert _fired(catalog, "Encounter", "update", active, active) == set(), "still in progress: no new admission"
    assert _fired(catalog, "Encounter", "update", active, done) == {"encounter-discharge"}
    assert _fired(catalog, "Encounter", "delete", active, None) == set()


def test_lab_results_are_final_or_amended_laboratory_observations_and_reports(catalog: TopicCatalog) -> None:
    assert _fired(catalog, "Observation", "create", None, lab("o")) == {"lab-result"}
    assert _fired(catalog, "Observation", "update", lab("o"), lab("o", "amended")) == {"lab-result"}
    assert _fired(catalog, "Observation", "create", None, lab("o", "preliminary")) == set()
    assert _fired(catalog, "Observation", "create", None, lab("o", category="vital-signs")) == set()
    report = {"resourceType": "DiagnosticReport", "id": "r", "status": "final", "code": {"text": "FBC"},
              "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}]}
    assert _fired(catalog, "DiagnosticReport", "create", None, report) == {"lab-result"}
    allergy = {"resourceType": "AllergyIntolerance", "id": "a", "patient": {"reference": "Patient/p1"}}
    assert _fired(catalog, "AllergyIntolerance", "create", None, allergy) == {"allergy-new"}
    assert _fired(catalog, "AllergyIntolerance", "update", allergy, allergy) == set()
    consent = {"resourceType": "Consent", "id": "c", "status": "active"}
    for method in ("create", "update", "delete"):
        after = consent if method != "delete" else None
        assert _fired(catalog, "Consent", method, consent, after) == {"consent-change"}


def test_topic_canonicals_are_found_by_url_with_or_without_version(catalog: TopicCatalog) -> None:
    assert catalog.urls[0] == f"{BASE}/SubscriptionTopic/encounter-admission"
    assert catalog.find(f"{BASE}/SubscriptionTopic/lab-result|1.0").name == "lab-result"
    assert catalog.find("https://moved.example/fhir/SubscriptionTopic/lab-result").name == "lab-result"
    assert catalog.find(f"{BASE}/SubscriptionTopic/nope") is None
    assert catalog.find("lab-result") is None


def test_filter_forms(catalog: TopicCatalog) -> None:
    assert split_filter("Observation?patient=Patient/123&code=x") == ("Observation", [("patient", "Patient/123"),
                                                                                       ("code", "x")])
    assert split_filter("Encounter.patient=Patient/123") == ("Encounter", [("patient", "Patient/123")])
    assert split_filter("patient=Patient/123") == (None, [("patient", "Patient/123")])


def test_filters_narrow_the_topic(catalog: TopicCatalog) -> None:
    registry = catalog.registry

    def passes(filters: tuple[str, ...], resource: dict) -> bool:
        spec = read_spec(subscription("lab-result", endpoint="https://x.example/h", filters=filters), catalog)
        return FilterSet(spec, catalog)(resource["resourceType"], Indexed(resource, registry))

    report = {"resourceType": "DiagnosticReport", "id": "r", "status": "final", "code": {"text": "x"},
              "subject": {"reference": "Patient/123"}}
    assert passes(("Observation?patient=Patient/123",), lab("o", patient="123"))
    assert not passes(("Observation?patient=Patient/123",), lab("o", patient="456"))
    assert not passes(("Observation?patient=Patient/123",), report), "a typed filter narrows to its type"
    assert passes(("patient=Patient/123",), report), "an untyped filter applies to every type of the topic"
    assert passes(("Observation?patient=Patient/123", "Observation?code=http://loinc.org|2345-7"),
                  lab("o", patient="123"))
    assert not passes(("Observation?patient=Patient/123", "Observation?code=http://loinc.org|9999-9"),
                      lab("o", patient="123")), "filters are ANDed"


@pytest.mark.parametrize(("change", "message"), [
    ({"criteria": f"{BASE}/SubscriptionTopic/unknown"}, "canonical URL of a topic"),
    ({"_criteria": {"extension": [{"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
                                          "backport-filter-criteria", "valueString": "Observation?status=final"}]}},
     "allows filtering Observation by patient"),
    ({"_criteria": {"extension": [{"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
                                          "backport-filter-criteria", "valueString": "Encounter?patient=1"}]}},
     "names Encounter"),
    ({"channel": {"type": "email", "endpoint": "mailto:a@b.example"}}, "not supported"),
    ({"channel": {"type": "rest-hook", "endpoint": "http://hooks.example.org/x"}}, "not a loopback"),
    ({"channel": {"type": "rest-hook", "endpoint": "ftp://127.0.0.1/x"}}, "https://"),
])
def test_subscriptions_this_server_cannot_serve_are_refused(catalog: TopicCatalog, change: dict,
                                                            message: str) -> None:
    body = {**subscription("lab-result", endpoint="https://hooks.example.org/x"), **change}
    with pytest.raises(FhirError) as caught:
        check(body, catalog)
    assert caught.value.category == "invalid"
    assert message in caught.value.message


def test_endpoints_are_https_or_loopback_http() -> None:
    assert endpoint_problem("https://hooks.example.org/x") is None
    assert endpoint_problem("http://127.0.0.1:9/x") is None
    assert endpoint_problem("http://[::1]:9/x") is None
    assert endpoint_problem("http://localhost/x") is None
    assert endpoint_problem("http://10.0.0.1/x") is not None


def test_the_fan_out_index_finds_every_subscription_whose_filters_pass(catalog: TopicCatalog) -> None:
    """Routes narrows the candidates by reference; it must never leave out a subscription that matches."""
    from caregate.subscriptions.events import Tracked
    from caregate.subscriptions.fanout import Routes

    registry = catalog.registry
    filter_sets = [(), ("Observation?patient=Patient/123",), ("patient=Patient/123",), ("subject=Patient/123",),
                   ("Observation?patient=Patient/456",), ("DiagnosticReport?subject=Patient/123",),
                   ("Observation?patient=123",), ("Observation?category=laboratory",),
                   ("Observation?patient=Patient/123", "Observation?code=http://loinc.org|2345-7"),
                   ("Observation?patient=Patient/123,Patient/456",), ("Observation?subject:Patient=123",)]
    routes, tracked = Routes(registry), []
    for i, filters in enumerate(filter_sets):
        spec = read_spec({**subscription("lab-result", endpoint="https://x.example/h", filters=filters),
                          "id": f"s{i}"}, catalog)
        tracked.append(Tracked(spec, 0, FilterSet(spec, catalog)))
        routes.add(tracked[-1])
    report = {"resourceType": "DiagnosticReport", "id": "r", "status": "final", "code": {"text": "x"},
              "subject": {"reference": "Patient/123"}}
    resources = [lab("o1", patient="123"), lab("o2", patient="456"), lab("o3", patient="789"), report,
                 {**lab("o4"), "subject": {"reference": f"{BASE}/Patient/123"}}]
    for resource in resources:
        item = Indexed(resource, registry)
        rtype = resource["resourceType"]
        wanted = {t.spec.id for t in tracked if t.filters is not None and t.filters(rtype, item)}
        found = [t.spec.id for t in routes.candidates("lab-result", rtype, item)]
        assert len(found) == len(set(found)), "each candidate once"
        assert wanted <= set(found), resource["id"]
        assert len(found) < len(tracked), "the index narrows the candidates"
    routes.remove("s1")
    after = [t.spec.id for t in routes.candidates("lab-result", "Observation", Indexed(lab("o", patient="123"),
                                                                                       registry))]
    assert "s1" not in after and "s2" in after


def test_indexing_only_the_topics_parameters_gives_the_same_answers(catalog: TopicCatalog) -> None:
    registry, narrow = catalog.registry, catalog.index_registry
    report = {"resourceType": "DiagnosticReport", "id": "r", "status": "final", "code": {"text": "x"},
              "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
              "subject": {"reference": "Patient/123"}}
    resources = [lab("o1", patient="123"), lab("o2", status="preliminary"), lab("o3", category="vital-signs"),
                 report, encounter("e1", "in-progress", patient="123"), encounter("e2", "finished")]
    filter_sets = [("patient=Patient/123",), ("Observation?code=http://loinc.org|2345-7",),
                   ("Observation?category=laboratory", "Observation?subject=Patient/p1"),
                   ("DiagnosticReport?category=LAB",), ("Encounter?class=IMP",)]
    for resource in resources:
        rtype = resource["resourceType"]
        full, small = Indexed(resource, registry), Indexed(resource, narrow)
        assert catalog.fired(rtype, "create", None, full) == catalog.fired(rtype, "create", None, small)
        sizes = [sum(len(getattr(i.rows, k)) for k in ("tokens", "references", "quantities", "composites"))
                 for i in (small, full)]
        assert sizes[0] <= sizes[1] and (sizes[0] < sizes[1] or rtype != "Observation"), "fewer rows"
        for topic in ("lab-result", "encounter-admission"):
            for filters in filter_sets:
                spec = read_spec(subscription(topic, endpoint="https://x.example/h", filters=filters), catalog)
                if spec.problem is None and rtype in spec.topic.resource_types:
                    chosen = FilterSet(spec, catalog)
                    assert chosen(rtype, full) == chosen(rtype, small), (resource["id"], filters)
