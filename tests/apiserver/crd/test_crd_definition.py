"""CustomResourceDefinition defaulting and validation (names, versions, structural schemas, subresources)."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.apiserver.crd.definition import (
    default_crd,
    record_stored_version,
    validate_crd,
    validate_crd_update,
    validate_stored_versions,
)

BASE: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}},
            }
        ],
    },
}
ROOT = "spec.versions[0].schema.openAPIV3Schema"


def crd(**spec: Any) -> dict[str, Any]:
    c = copy.deepcopy(BASE)
    c["spec"].update(spec)
    default_crd(c)
    return c


def with_schema(schema: dict[str, Any]) -> dict[str, Any]:
    c = crd()
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = schema
    return c


def errs(c: dict[str, Any]) -> list[str]:
    return [str(e) for e in validate_crd(c)]


def test_defaults_names_and_conversion() -> None:
    c = crd()
    assert c["spec"]["names"]["singular"] == "widget"
    assert c["spec"]["names"]["listKind"] == "WidgetList"
    assert c["spec"]["conversion"] == {"strategy": "None"}
    assert errs(c) == []


def test_name_must_be_plural_dot_group() -> None:
    c = crd()
    c["metadata"]["name"] = "things.example.com"
    assert errs(c) == ['metadata.name: Invalid value: "things.example.com": must be spec.names.plural+"."+spec.group']


def test_group_scope_and_names() -> None:
    c = crd(group="example", scope="Galaxy")
    c["metadata"]["name"] = "widgets.example"
    assert errs(c) == [
        'spec.group: Invalid value: "example": should be a domain with at least one dot',
        'spec.scope: Unsupported value: "Galaxy": supported values: "Cluster", "Namespaced"',
    ]
    c = crd(names={"plural": "widgets", "kind": "Widget", "listKind": "Widget", "shortNames": ["W!"]})
    messages = errs(c)
    assert 'spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same' in messages
    assert any(m.startswith('spec.names.shortNames[0]: Invalid value: "W!": a DNS-1035 label') for m in messages)


def test_protected_groups_need_approval() -> None:
    c = crd(group="widgets.k8s.io")
    c["metadata"]["name"] = "widgets.widgets.k8s.io"
    assert errs(c)[0].startswith("metadata.annotations[api-approved.kubernetes.io]: Required value")


def test_exactly_one_storage_version_and_unique_names() -> None:
    c = crd()
    v = copy.deepcopy(c["spec"]["versions"][0])
    c["spec"]["versions"].append(v)
    messages = errs(c)
    assert any(m.startswith("spec.versions: Invalid value: ") and m.endswith("must contain unique version names") for m in messages)
    assert any(m.endswith("must have exactly one version marked as storage version") for m in messages)
    c["spec"]["versions"][1]["storage"] = False
    c["spec"]["versions"][1]["name"] = "v2"
    assert errs(c) == []


def test_schema_is_required() -> None:
    c = crd()
    del c["spec"]["versions"][0]["schema"]
    assert errs(c) == [f"{ROOT}: Required value: schemas are required"]


def test_structural_rules() -> None:
    assert errs(with_schema({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}})) == [
        f"{ROOT}.properties[spec].type: Required value: must not be empty for specified object fields"
    ]
    assert errs(with_schema({"type": "string"})) == [f'{ROOT}.type: Invalid value: "string": must be object at the root']
    assert errs(with_schema({"type": "object", "properties": {"a": {"type": "array"}}})) == [
        f"{ROOT}.properties[a].items: Required value: must be specified"
    ]
    assert errs(with_schema({"type": "object", "properties": {"a": {"type": "string", "x-kubernetes-int-or-string": True}}})) == [
        f'{ROOT}.properties[a].type: Invalid value: "string": must be empty if x-kubernetes-int-or-string is true'
    ]
    assert errs(
        with_schema({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}})
    ) == [
        f"{ROOT}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but "
        "metadata is implicitly specified"
    ]
    assert errs(with_schema({"type": "object", "properties": {"a": {"type": "string", "uniqueItems": True}}})) == [
        f"{ROOT}.properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity "
        "becomes quadratic"
    ]
    assert errs(with_schema({"type": "object", "additionalProperties": False})) == [
        f"{ROOT}.additionalProperties: Forbidden: additionalProperties cannot be set to false"
    ]
    assert errs(with_schema({"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}], "type": "string"}}})) == [
        f"{ROOT}.properties[a].anyOf[0].type: Forbidden: must be empty to be structural"
    ]
    assert errs(with_schema({"type": "object", "properties": {"a": {"$ref": "#/x"}}})) == [
        f"{ROOT}.properties[a].$ref: Forbidden: $ref is not supported",
        f"{ROOT}.properties[a].type: Required value: must not be empty for specified object fields",
    ]


def test_int_or_string_any_of_is_allowed() -> None:
    schema = {"type": "object", "properties": {"p": {"x-kubernetes-int-or-string": True,
                                                     "anyOf": [{"type": "integer"}, {"type": "string"}]}}}
    assert errs(with_schema(schema)) == []


def test_list_types() -> None:
    schema = {"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map",
                                                     "items": {"type": "object", "properties": {"k": {"type": "string"}}}}}}
    assert errs(with_schema(schema)) == [
        f"{ROOT}.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
    ]
    schema["properties"]["l"]["x-kubernetes-list-map-keys"] = ["k"]
    assert errs(with_schema(schema)) == []
    schema["properties"]["l"]["x-kubernetes-list-type"] = "bag"
    assert f'{ROOT}.properties[l].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map"' in errs(
        with_schema(schema)
    )


def test_defaults_must_validate() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "default": "x"}}}
    assert errs(with_schema(schema)) == [
        f'{ROOT}.properties[n].default: Invalid value: "string":  in body must be of type integer: "string"'
    ]


def test_subresource_paths_and_printer_columns() -> None:
    c = crd()
    c["spec"]["versions"][0]["subresources"] = {"scale": {"specReplicasPath": ".status.replicas", "statusReplicasPath": "status.r"}}
    c["spec"]["versions"][0]["additionalPrinterColumns"] = [{"name": "X", "type": "map", "jsonPath": ".spec.x"}, {"name": "Y"}]
    assert errs(c) == [
        'spec.versions[0].subresources.scale.specReplicasPath: Invalid value: ".status.replicas": should be a json path under .spec',
        'spec.versions[0].subresources.scale.statusReplicasPath: Invalid value: "status.r": must be a simple json path starting with .',
        'spec.versions[0].additionalPrinterColumns[0].type: Invalid value: "map": must be one of boolean,date,integer,number,string',
        "spec.versions[0].additionalPrinterColumns[1].type: Required value: must be one of boolean,date,integer,number,string",
        "spec.versions[0].additionalPrinterColumns[1].JSONPath: Required value",
    ]


def test_stored_versions() -> None:
    c = crd()
    record_stored_version(c)
    assert c["status"]["storedVersions"] == ["v1"]
    assert validate_stored_versions(c) == []
    old = copy.deepcopy(c)
    c["spec"]["versions"][0]["name"] = "v2"
    record_stored_version(c)
    assert c["status"]["storedVersions"] == ["v1", "v2"]
    assert [str(e) for e in validate_crd_update(c, old)] == [
        'status.storedVersions[0]: Invalid value: "v1": must appear in spec.versions'
    ]


def test_scope_is_immutable_once_established() -> None:
    c = crd()
    record_stored_version(c)
    c["status"]["conditions"] = [{"type": "Established", "status": "True"}]
    new = copy.deepcopy(c)
    new["spec"]["scope"] = "Cluster"
    assert [str(e) for e in validate_crd_update(new, c)] == ['spec.scope: Invalid value: "Cluster": field is immutable']
