"""FHIR XML <-> JSON (https://hl7.org/fhir/R4/xml.html, json.html): round trips on real and synthetic data,
the tricky rules one by one, and errors that say what and where."""

from __future__ import annotations

import copy
import json
import pickle
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson
import pytest

from caregate.fhir.xmlformat import (
    FhirDecimal,
    FhirFormatError,
    FhirStructureError,
    FhirValueError,
    XmlForbiddenError,
    XmlSyntaxError,
    json_default,
    parse_xml,
    to_xml,
)
from caregate.fhir.xmlformat.model import COMPLEX, type_model

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
NS = 'xmlns="http://hl7.org/fhir"'
XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'


def _shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared test data lives in ../shared")
    return path


def canonical(resource: Any) -> bytes:
    """Exact JSON (key order aside): tells 1 from 1.0 and true from 1, which == does not."""
    return orjson.dumps(resource, option=orjson.OPT_SORT_KEYS, default=json_default)


def xml(body: str, rtype: str = "Patient") -> bytes:
    return f"<{rtype} {NS}>{body}</{rtype}>".encode()


# -- round trips -------------------------------------------------------------------------------------


def test_synthetic_resources_round_trip_json_xml_json() -> None:
    from caregate.synth import generate

    resources = [entry["resource"] for bundle in generate(2, seed=5) for entry in bundle.get("entry", [])]
    failures = [r["resourceType"] + "/" + r["id"] for r in resources if canonical(parse_xml(to_xml(r))) != canonical(r)]
    assert len(resources) > 500
    assert failures == []


def test_uk_core_examples_are_stable_xml_json_xml_json() -> None:
    files = sorted(_shared("uk-core", "examples").glob("*.xml"))
    assert len(files) >= 215
    failures = []
    for path in files:
        raw = path.read_bytes()
        first = parse_xml(raw)
        written = to_xml(first)
        second = parse_xml(written)
        root = ET.fromstring(raw).tag.rpartition("}")[2]
        if first["resourceType"] != root or canonical(first) != canonical(second) or to_xml(second) != written:
            failures.append(path.name)
    assert failures == []


def test_fhirpath_suite_inputs_round_trip_and_patient_example_matches_its_json_twin() -> None:
    folder = _shared("testsuites", "fhirpath-r4", "input")
    files = sorted(folder.glob("*.xml"))
    assert files
    for path in files:
        resource = parse_xml(path.read_bytes())
        assert canonical(parse_xml(to_xml(resource))) == canonical(resource), path.name
    from_xml = parse_xml((folder / "patient-example.xml").read_bytes())
    twin = json.loads((folder / "patient-example.json").read_text())
    assert canonical(from_xml) == canonical(twin)
    assert canonical(parse_xml(to_xml(twin))) == canonical(twin)


def test_str_input_pretty_output_and_other_encodings() -> None:
    resource = {"resourceType": "Patient", "id": "p", "name": [{"family": "Kh\u00e1n", "given": ["A", "B"]}]}
    assert parse_xml(to_xml(resource).decode()) == resource
    pretty = to_xml(resource, pretty=True)
    assert b"\n  <name>\n    <family" in pretty and parse_xml(pretty) == resource
    div = f"<div {XHTML}>caf\u00e9 <b>x</b></div>"
    doc = f'<Patient {NS}><text><status value="generated"/>{div}</text></Patient>'
    for data in (doc.encode("utf-16"), ('<?xml version="1.0" encoding="ISO-8859-1"?>' + doc).encode("latin-1")):
        assert parse_xml(data)["text"]["div"] == div


# -- the rules ---------------------------------------------------------------------------------------


def test_primitive_extensions_go_to_underscore_properties_with_null_padding() -> None:
    ext = '<extension url="http://x/e"><valueString value="v"/></extension>'
    resource = parse_xml(
        xml(
            f'<birthDate id="b"><extension url="http://x/e"><valueCode value="c"/></extension></birthDate>'
            f'<name><given value="Ann"/><given id="g2">{ext}</given><given value="Cy"/></name>'
            f'<name><given value="Di"/></name><name><given>{ext}</given></name>'
        )
    )
    assert resource["_birthDate"] == {"id": "b", "extension": [{"url": "http://x/e", "valueCode": "c"}]}
    assert "birthDate" not in resource
    first, second, third = resource["name"]
    assert first["given"] == ["Ann", None, "Cy"]
    assert first["_given"] == [None, {"id": "g2", "extension": [{"url": "http://x/e", "valueString": "v"}]}, None]
    assert second == {"given": ["Di"]}  # no all-null `_given`
    assert third == {"_given": [{"extension": [{"url": "http://x/e", "valueString": "v"}]}]}  # no all-null `given`
    assert canonical(parse_xml(to_xml(resource))) == canonical(resource)
    # a shorter `given` array (or none) is padded on the way in
    short = {"resourceType": "Patient", "name": [{"given": ["a"], "_given": [None, {"id": "x"}]}]}
    assert b'<given value="a"/><given id="x"/>' in to_xml(short)


def test_repeating_elements_are_arrays_and_values_are_typed() -> None:
    resource = parse_xml(
        xml(
            '<active value="true"/><name><family value="K"/></name><multipleBirthInteger value="2"/>'
            '<photo><size value="12"/></photo>'
        )
    )
    assert resource == {
        "resourceType": "Patient",
        "active": True,
        "name": [{"family": "K"}],
        "multipleBirthInteger": 2,
        "photo": [{"size": 12}],
    }
    assert type(resource["active"]) is bool and type(resource["multipleBirthInteger"]) is int


def test_decimals_keep_their_written_precision() -> None:
    def value(text: str) -> Any:
        return parse_xml(xml(f'<valueQuantity><value value="{text}"/></valueQuantity>', "Observation"))[
            "valueQuantity"
        ]["value"]

    assert type(value("185")) is int and value("185") == 185
    assert type(value("1.5")) is float and type(value("36.6")) is float
    exact = value("1.50")
    assert isinstance(exact, FhirDecimal) and isinstance(exact, float)
    assert exact == 1.5 and str(exact) == "1.50" and repr(exact) == "1.50"
    assert value("0.10") == 0.1 and str(value("0.10")) == "0.10"
    observation = parse_xml(xml('<valueQuantity><value value="1.50"/></valueQuantity>', "Observation"))
    assert b'<value value="1.50"/>' in to_xml(observation)
    assert orjson.dumps(observation, default=json_default) == (
        b'{"resourceType":"Observation","valueQuantity":{"value":1.50}}'
    )
    assert copy.deepcopy(observation) == observation and str(pickle.loads(pickle.dumps(exact))) == "1.50"
    # JSON numbers (ints and floats from orjson) come back as the same type and value
    for number in (185, 1.5, 0.1, 1e-07, 123456789.125, -3.0):
        resource = {"resourceType": "Observation", "status": "final", "valueQuantity": {"value": number}}
        assert canonical(parse_xml(to_xml(resource))) == canonical(resource)


def test_choice_types_contained_and_nested_resources() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "t"},
                    "effectiveDateTime": "2024-01-02",
                    "valueString": "v",
                    "contained": [{"resourceType": "Patient", "id": "p1", "active": False}],
                    "subject": {"reference": "#p1"},
                }
            },
            {
                "resource": {
                    "resourceType": "Parameters",
                    "parameter": [
                        {"name": "r", "resource": {"resourceType": "Patient", "id": "x"}},
                        {"name": "n", "valueDecimal": 2.5, "part": [{"name": "m", "valueBoolean": True}]},
                    ],
                },
                "response": {
                    "status": "200",
                    "outcome": {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]},
                },
            },
        ],
    }
    written = to_xml(bundle)
    assert b'<contained><Patient><id value="p1"/>' in written
    assert b"<outcome><OperationOutcome>" in written
    assert canonical(parse_xml(written)) == canonical(bundle)


def test_attributes_comments_and_foreign_attributes() -> None:
    resource = parse_xml(
        f'<?xml version="1.0"?><!-- a --><Patient {NS} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xsi:schemaLocation="http://hl7.org/fhir fhir.xsd"><!-- b --><?pi x?>'
        '<name id="n1"><!-- c --><family value="K"/></name>'
        '<extension id="e1" url="http://x/e"><valueBoolean value="true"/></extension></Patient>'.encode()
    )
    assert resource == {
        "resourceType": "Patient",
        "name": [{"id": "n1", "family": "K"}],
        "extension": [{"id": "e1", "url": "http://x/e", "valueBoolean": True}],
    }
    assert b'<extension id="e1" url="http://x/e"><valueBoolean value="true"/>' in to_xml(resource)


def test_elements_are_written_in_definition_order() -> None:
    resource = {"gender": "male", "name": [{"given": ["A"], "family": "K"}], "id": "p", "resourceType": "Patient"}
    written = to_xml(resource).decode()
    assert written.index("<id ") < written.index("<name>") < written.index("<gender ")
    assert written.index("<family ") < written.index("<given ")


def test_narrative_div_is_an_xhtml_string_kept_as_written() -> None:
    div = f'<div {XHTML}>\n\t<p class="a">&quot;Jim&quot; &amp; <br/>&#160;</p><!-- kept --></div>'
    resource = parse_xml(xml(f'<text><status value="generated"/>{div}</text>'))
    assert resource["text"]["div"] == div
    assert parse_xml(to_xml(resource)) == resource
    prefixed = parse_xml(
        b'<Patient xmlns="http://hl7.org/fhir" xmlns:h="http://www.w3.org/1999/xhtml"><text>'
        b'<status value="generated"/><h:div><h:p title="a&amp;b">x &lt; y</h:p></h:div></text></Patient>'
    )
    assert prefixed["text"]["div"] == f'<div {XHTML}><p title="a&amp;b">x &lt; y</p></div>'
    bare = {"resourceType": "Patient", "text": {"status": "generated", "div": "<div>hi <b>there</b></div>"}}
    assert parse_xml(to_xml(bare))["text"]["div"] == f"<div {XHTML}>hi <b>there</b></div>"


# -- errors ------------------------------------------------------------------------------------------


def _error(data: bytes | str) -> FhirFormatError:
    with pytest.raises(FhirFormatError) as caught:
        parse_xml(data)
    assert isinstance(caught.value, ValueError)
    return caught.value


def test_malformed_xml_reports_line_and_column() -> None:
    error = _error(f'<Patient {NS}>\n  <id value="a">\n</Patient>')
    assert isinstance(error, XmlSyntaxError)
    assert (error.line, error.column) == (3, 3) and "mismatched tag" in str(error) and "line 3, column 3" in str(error)
    assert isinstance(_error(b""), XmlSyntaxError)
    assert isinstance(_error(b"\xff\xfe\xfa<x"), XmlSyntaxError)


@pytest.mark.parametrize(
    "data",
    [
        '<!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Patient {NS}><id value="&xxe;"/></Patient>',
        '<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><Patient {NS}><id value="&b;"/></Patient>',
        '<!DOCTYPE Patient SYSTEM "http://attacker.example/x.dtd"><Patient {NS}/>',
        "<!DOCTYPE Patient><Patient {NS}/>",
    ],
)
def test_doctypes_and_entities_are_refused(data: str) -> None:
    assert isinstance(_error(data.replace("{NS}", NS)), XmlForbiddenError)


def test_undefined_entities_are_malformed() -> None:
    assert "undefined entity" in str(_error(xml('<id value="&lol;"/>')))


@pytest.mark.parametrize(
    ("data", "kind", "location", "words"),
    [
        (b'<Patient><id value="a"/></Patient>', FhirStructureError, "Patient", "no namespace"),
        (b'<Patient xmlns="http://hl7.org/fhir/x"/>', FhirStructureError, "Patient", "namespace"),
        (b'<Patientx xmlns="http://hl7.org/fhir"/>', FhirStructureError, "Patientx", "not an R4 resource"),
        (xml('<name><given value="a"/><foo value="b"/></name>'), FhirStructureError, "Patient.name[0].foo", "unknown"),
        (xml('<name id="a" use="b"/>'), FhirStructureError, "Patient.name", "unknown attribute"),
        (xml('<active value="yes"/>'), FhirValueError, "Patient.active", "boolean"),
        (xml('<photo><size value="1.5"/></photo>'), FhirValueError, "Patient.photo[0].size", "unsignedInt"),
        (xml('<active value="true"/><active value="true"/>'), FhirStructureError, "Patient.active", "once"),
        (xml("<active/>"), FhirValueError, "Patient.active", "value"),
        (xml('<active value="true">yes</active>'), FhirStructureError, "Patient.active", "text"),
        (xml("<text><div>x</div></text>"), FhirStructureError, "Patient.text.div", "XHTML"),
        (xml("<contained><Patient/><Patient/></contained>"), FhirStructureError, "Patient.contained[0]", "one"),
        (xml("<contained/>"), FhirStructureError, "Patient.contained[0]", "resource"),
    ],
)
def test_structure_and_value_errors_name_their_location(
    data: bytes, kind: type[FhirFormatError], location: str, words: str
) -> None:
    error = _error(data)
    assert isinstance(error, kind)
    assert error.location == location and error.expression == (location,)
    assert words in error.message and error.line == 1 and error.column


@pytest.mark.parametrize(
    ("resource", "kind", "location"),
    [
        ({"name": [{"family": "K", "nickname": "x"}]}, FhirStructureError, "Patient.name[0]"),
        ({"active": "true"}, FhirValueError, "Patient.active"),
        ({"name": {"family": "K"}}, FhirStructureError, "Patient.name"),
        ({"birthDate": ["2000"]}, FhirStructureError, "Patient.birthDate"),
        ({"name": [{"given": ["a\x01b"]}]}, FhirValueError, "Patient.name[0].given[0]"),
        ({"name": [{"given": [None]}]}, FhirValueError, "Patient.name[0].given[0]"),
        ({"_gender": {"url": "x"}}, FhirStructureError, "Patient.gender"),
        ({"contained": [{"id": "x"}]}, FhirStructureError, "Patient.contained[0]"),
        ({"multipleBirthInteger": 1.5}, FhirValueError, "Patient.multipleBirthInteger"),
        ({"text": {"status": "generated", "div": "<p>x</p>"}}, FhirStructureError, "Patient.text.div"),
        ({"text": {"status": "generated", "div": "<div>x"}}, XmlSyntaxError, "Patient.text.div"),
        ({"text": {"status": "generated", "div": "<!DOCTYPE d><div/>"}}, XmlForbiddenError, "Patient.text.div"),
    ],
)
def test_to_xml_errors_name_their_location(
    resource: dict[str, Any], kind: type[FhirFormatError], location: str
) -> None:
    with pytest.raises(kind) as caught:
        to_xml({"resourceType": "Patient", **resource})
    assert caught.value.location == location


def test_to_xml_needs_a_known_resource_type() -> None:
    for bad in ({"id": "x"}, {"resourceType": "Nope"}):
        with pytest.raises(FhirStructureError, match="resourceType"):
            to_xml(bad)


def test_the_model_resolves_every_complex_type() -> None:
    patient = type_model("Patient")
    assert patient is not None and list(patient.elements)[:4] == ["id", "meta", "implicitRules", "language"]
    extension = type_model("Extension")
    assert extension is not None and [e.name for e in extension.attributes] == ["id", "url"]
    for name in ("Questionnaire.item", "Observation", "Timing.repeat", "Bundle.entry"):
        model = type_model(name)
        assert model is not None
        for element in model.elements.values():
            assert element.kind != COMPLEX or type_model(element.type) is not None, (name, element)


def test_absurd_nesting_is_refused_not_crashed_on() -> None:
    deep = f"<Questionnaire {NS}>" + "<item>" * 250 + "</item>" * 250 + "</Questionnaire>"
    assert "nest" in _error(deep).message
    div = f'<text><status value="generated"/><div {XHTML}>' + "<b>" * 300 + "</b>" * 300 + "</div></text>"
    assert "nest" in _error(xml(div)).message
    item: dict[str, Any] = {"linkId": "a"}
    for _ in range(2000):
        item = {"linkId": "a", "item": [item]}
    with pytest.raises(FhirStructureError, match="nested too deeply"):
        to_xml({"resourceType": "Questionnaire", "status": "draft", "item": [item]})
