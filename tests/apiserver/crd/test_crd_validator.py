"""Custom resource validation: the field errors and messages upstream's kube-openapi validator produces."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.apiserver.crd.validator import go_num, validate

SPEC: dict[str, Any] = {
    "type": "object",
    "required": ["size"],
    "properties": {
        "size": {"type": "integer", "minimum": 1, "maximum": 10},
        "ratio": {"type": "number", "exclusiveMaximum": True, "maximum": 1.5, "multipleOf": 0.5},
        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5, "minLength": 2},
        "color": {"type": "string", "enum": ["red", "blue"]},
        "level": {"type": "integer", "enum": [1, 2]},
        "note": {"type": "string", "nullable": True},
        "when": {"type": "string", "format": "date-time"},
        "ip": {"type": "string", "format": "ipv4"},
        "port": {"x-kubernetes-int-or-string": True},
        "tags": {"type": "array", "maxItems": 2, "minItems": 1, "items": {"type": "string"},
                 "x-kubernetes-list-type": "set"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"},
                                                                                   "port": {"type": "integer"}}}},
        "labels": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
        "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "x-kubernetes-preserve-unknown-fields": True},
        "any": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True},
    },
}
SCHEMA: dict[str, Any] = {"type": "object", "properties": {"spec": SPEC}}


def errors_of(spec: dict[str, Any]) -> list[str]:
    return [str(e) for e in validate({"apiVersion": "example.com/v1", "kind": "W", "metadata": {}, "spec": spec}, SCHEMA)]


def reasons_of(spec: dict[str, Any]) -> list[str]:
    return [e.reason for e in validate({"spec": spec}, SCHEMA)]


def test_valid_object_has_no_errors() -> None:
    spec = {"size": 3, "ratio": 1.0, "name": "abc", "color": "red", "level": 2, "note": None,
            "when": "2024-01-02T03:04:05Z", "ip": "10.0.0.1", "port": "http", "tags": ["a", "b"],
            "ports": [{"name": "a", "port": 1}, {"name": "b"}], "labels": {"a": "b"},
            "template": {"apiVersion": "v1", "kind": "Pod", "spec": {}}, "any": 5}
    assert errors_of(spec) == []


def test_type_errors_print_the_type_name_like_upstream() -> None:
    assert errors_of({"size": "string"}) == [
        'spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"'
    ]
    assert reasons_of({"size": "x"}) == ["FieldValueTypeInvalid"]
    assert errors_of({"size": 1, "port": 1.5}) == [
        'spec.port: Invalid value: "number": spec.port in body must be of type integer,string: "number"'
    ]
    assert errors_of({"size": True}) == [
        'spec.size: Invalid value: "boolean": spec.size in body must be of type integer: "boolean"'
    ]


def test_integral_floats_are_integers() -> None:
    assert errors_of({"size": 3.0}) == []


def test_required_and_bounds() -> None:
    assert errors_of({}) == ["spec.size: Required value"]
    assert errors_of({"size": 0}) == ["spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"]
    assert errors_of({"size": 11}) == ["spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"]
    assert errors_of({"size": 1, "ratio": 1.5}) == [
        "spec.ratio: Invalid value: 1.5: spec.ratio in body should be less than 1.5"
    ]
    assert errors_of({"size": 1, "ratio": 0.3}) == [
        "spec.ratio: Invalid value: 0.3: spec.ratio in body should be a multiple of 0.5"
    ]


def test_string_rules() -> None:
    assert errors_of({"size": 1, "name": "ABC"}) == [
        "spec.name: Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'"
    ]
    assert errors_of({"size": 1, "name": "abcdef"}) == ["spec.name: Too long: may not be more than 5 bytes"]
    assert errors_of({"size": 1, "name": "a"}) == [
        'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long'
    ]


def test_enum_lists_the_supported_values() -> None:
    assert errors_of({"size": 1, "color": "pink"}) == [
        'spec.color: Unsupported value: "pink": supported values: "red", "blue"'
    ]
    assert errors_of({"size": 1, "level": 3}) == ['spec.level: Unsupported value: 3: supported values: "1", "2"']


def test_nullable() -> None:
    assert errors_of({"size": 1, "note": None}) == []
    assert errors_of({"size": 1, "name": None}) == [
        'spec.name: Invalid value: "null": spec.name in body must be of type string: "null"'
    ]


@pytest.mark.parametrize(
    ("field", "value", "fmt"),
    [("when", "yesterday", "date-time"), ("ip", "300.1.1.1", "ipv4")],
)
def test_formats(field: str, value: str, fmt: str) -> None:
    assert errors_of({"size": 1, field: value}) == [
        f'spec.{field}: Invalid value: "{value}": spec.{field} in body must be of type {fmt}: "{value}"'
    ]


def test_arrays_and_list_types() -> None:
    assert errors_of({"size": 1, "tags": ["a", "b", "c"]}) == ["spec.tags: Too many: 3: must have at most 2 items"]
    assert errors_of({"size": 1, "tags": []}) == [
        "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"
    ]
    assert errors_of({"size": 1, "tags": ["a", "a"]}) == ['spec.tags[1]: Duplicate value: "a"']
    assert errors_of({"size": 1, "tags": [1]}) == [
        'spec.tags[0]: Invalid value: "integer": spec.tags[0] in body must be of type string: "integer"'
    ]
    assert errors_of({"size": 1, "ports": [{"name": "a"}, {"name": "a", "port": 2}]}) == [
        'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}'
    ]
    assert errors_of({"size": 1, "ports": [{"port": 2}]}) == ["spec.ports[0].name: Required value"]


def test_maps() -> None:
    assert errors_of({"size": 1, "labels": {"a": 1}}) == [
        'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"'
    ]
    assert errors_of({"size": 1, "labels": {"a": "1", "b": "2"}}) == ["spec.labels: Too many: 2: must have at most 1 item"]


def test_embedded_resources_need_type_meta() -> None:
    assert errors_of({"size": 1, "template": {"spec": {}}}) == [
        "spec.template.apiVersion: Required value: must not be empty",
        "spec.template.kind: Required value: must not be empty",
    ]
    assert errors_of({"size": 1, "template": {"apiVersion": "v1", "kind": "Not_A_Kind"}})[0].startswith(
        'spec.template.kind: Invalid value: "Not_A_Kind": may have mixed case, but should otherwise match:'
    )


def test_go_number_formatting() -> None:
    assert go_num(1.0) == "1"
    assert go_num(0.5) == "0.5"
    assert go_num(7) == "7"
