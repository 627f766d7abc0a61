"""Search parameters per resource type, and the generated definitions they come from.

https://hl7.org/fhir/R4/searchparameter-registry.html, https://hl7.org/fhir/R4/search.html#all
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from caregate.fhir import definitions
from caregate.search.registry import Registry, SearchParam, default_registry

ROOT = Path(__file__).resolve().parents[2]
SHARED_R4 = ROOT.parent / "shared" / "fhir-r4"
COMMON = ("_id", "_lastUpdated", "_tag", "_profile", "_security", "_source")


def test_resource_types() -> None:
    types = definitions.resource_types()
    assert len(types) == 146
    assert {"Patient", "Observation", "Bundle", "Parameters", "Binary"} <= types
    assert "Resource" not in types and "DomainResource" not in types
    assert definitions.RESOURCE_TYPES is types
    assert definitions.is_resource_type("Patient")
    assert not definitions.is_resource_type("patient")
    assert not definitions.is_resource_type("HumanName")
    assert definitions.is_domain_resource("Patient")
    assert not definitions.is_domain_resource("Bundle")


def test_patient_compartment() -> None:
    compartment = definitions.patient_compartment()
    assert compartment["Observation"] == ("subject", "performer")
    assert compartment["Patient"] == ("link",)
    assert "Organization" not in compartment
    registry = default_registry()
    for rtype, codes in compartment.items():
        for code in codes:
            assert registry.get(rtype, code) is not None, (rtype, code)


def test_element_model_knows_choice_elements() -> None:
    observation = definitions.element_types("Observation")
    assert observation is not None
    assert observation["code"] == ("CodeableConcept",)
    assert "Quantity" in observation["value[x]"]
    assert observation["component"] == ("Observation.component",)
    assert definitions.element_types("Observation.component")["value[x]"] == observation["value[x]"]
    choices = definitions.choice_elements("Observation")
    assert choices["Observation.effective"] == ("dateTime", "Period", "Timing", "instant")
    assert "Observation.component.value" in choices
    assert definitions.element_types("string") is None


def test_patient_parameters() -> None:
    registry = default_registry()
    name = registry.get("Patient", "name")
    assert name == SearchParam(
        code="name",
        type="string",
        url="http://hl7.org/fhir/SearchParameter/Patient-name",
        base=("Patient",),
        expression="Patient.name",
    )
    assert registry.get("Patient", "birthdate").type == "date"
    assert registry.get("Patient", "nope") is None
    assert set(COMMON) <= set(registry.for_type("Patient"))
    assert registry.get("Patient", "_text") is not None


def test_shared_expression_is_restricted_to_each_type() -> None:
    registry = default_registry()
    code = registry.get("Condition", "code")
    assert code is not None
    assert code.expression == "Condition.code"
    assert "Observation" in code.base
    assert registry.get("Observation", "code").expression == "Observation.code"
    assert registry.get("AllergyIntolerance", "code").expression == (
        "AllergyIntolerance.code | AllergyIntolerance.reaction.substance"
    )
    assert registry.get("Condition", "patient").expression == "Condition.subject.where(resolve() is Patient)"


def test_every_expression_belongs_to_its_type() -> None:
    registry = default_registry()
    for rtype in definitions.resource_types():
        for code, param in registry.for_type(rtype).items():
            if param.expression is None:
                continue
            roots = {part.strip(" (").split(".")[0] for part in param.expression.split(" | ")}
            other_types = {root for root in roots if root[0].isupper()} - {
                rtype,
                "Resource",
                "DomainResource",
            }
            assert not other_types, (rtype, code, param.expression)


def test_common_parameters() -> None:
    registry = default_registry()
    for rtype in ("Patient", "Bundle", "Binary", "Observation"):
        params = registry.for_type(rtype)
        for code in COMMON:
            assert code in params
    assert registry.get("Bundle", "_text") is None  # DomainResource only
    assert registry.get("Patient", "_tag").expression == "Resource.meta.tag"
    assert registry.get("Patient", "_profile").type == "uri"
    assert set(registry.for_type("Resource")) >= set(COMMON)
    assert registry.get("Resource", "name") is None
    assert registry.for_type("NotAType") == {}


def test_reference_targets_and_components() -> None:
    registry = default_registry()
    subject = registry.get("Observation", "subject")
    assert subject.type == "reference"
    assert "Patient" in subject.targets and "Group" in subject.targets
    combo = registry.get("Observation", "code-value-quantity")
    assert combo.type == "composite"
    assert combo.components == (("code", "code"), ("value-quantity", "value.as(Quantity)"))
    assert registry.get("Observation", "value-quantity").comparators[:2] == ("eq", "ne")


def test_default_registry_is_cached() -> None:
    assert default_registry() is default_registry()
    assert default_registry().for_type("Patient") is default_registry().for_type("Patient")


def test_custom_search_parameter() -> None:
    custom = {
        "resourceType": "SearchParameter",
        "url": "http://example.org/SearchParameter/patient-nickname",
        "code": "nickname",
        "base": ["Patient", "Practitioner"],
        "type": "string",
        "expression": (
            "Patient.name.where(use='nickname').given | Practitioner.name.where(use='nickname').given"
        ),
    }
    registry = default_registry().with_records([custom])
    assert registry.get("Patient", "nickname").expression == "Patient.name.where(use='nickname').given"
    assert (
        registry.get("Practitioner", "nickname").expression == "Practitioner.name.where(use='nickname').given"
    )
    assert registry.get("Patient", "name") is not None
    assert default_registry().get("Patient", "nickname") is None
    assert Registry.from_records([custom]).for_type("Patient").keys() == {"nickname"}


def _load_gendefs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gendefs", ROOT / "tools" / "gendefs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_data_matches_the_official_definitions() -> None:
    """Re-run tools/gendefs.py on the R4 bundles and compare with the data shipped in the package."""
    if not SHARED_R4.is_dir():
        pytest.skip(f"{SHARED_R4} is absent: cannot regenerate the definitions to compare")
    generated = _load_gendefs().generate(SHARED_R4)
    data = ROOT / "src" / "caregate" / "fhir" / "data"
    for name, content in generated.items():
        assert (data / name).read_bytes() == content, f"{name} is stale: run tools/gendefs.py"
