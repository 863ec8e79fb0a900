"""Pruning, null handling and defaulting of custom resources by their structural schema (upstream semantics)."""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.crd.structural import apply_defaults, normalize, prune, prune_nulls

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "default": 1},
                "color": {"type": "string", "nullable": True, "default": "red"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                         "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}},
                "port": {"x-kubernetes-int-or-string": True},
                "nested": {"type": "object", "default": {}, "properties": {"deep": {"type": "string", "default": "d"}}},
            },
        },
        "status": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
    },
}


def test_prune_drops_undeclared_fields_and_reports_paths() -> None:
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "bogus": 1},
        "spec": {"size": 2, "junk": True, "items": [{"name": "a", "extra": 1}], "labels": {"k": "v"}},
        "other": 1,
    }
    pruned = prune(obj, SCHEMA)
    assert sorted(pruned) == ["metadata.bogus", "other", "spec.items[0].extra", "spec.junk"]
    assert obj == {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 2, "items": [{"name": "a"}], "labels": {"k": "v"}},
    }


def test_preserve_unknown_fields_keeps_unknown_but_prunes_inside_known() -> None:
    obj = {"spec": {"free": {"anything": [1, {"b": 2}], "known": {"a": "x", "zz": 1}}}}
    assert prune(obj, SCHEMA) == ["spec.free.known.zz"]
    assert obj["spec"]["free"] == {"anything": [1, {"b": 2}], "known": {"a": "x"}}


def test_embedded_resource_keeps_type_meta_and_cuts_metadata_to_object_meta() -> None:
    obj = {"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "x": 1},
                                 "spec": {"x": "y", "z": 1}, "bad": 1}}}
    assert sorted(prune(obj, SCHEMA)) == ["spec.template.bad", "spec.template.metadata.x", "spec.template.spec.z"]
    assert obj["spec"]["template"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": "y"}}


def test_root_without_schema_keeps_only_type_meta_and_metadata() -> None:
    obj = {"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {}}
    assert prune(obj, None) == ["spec"]


def test_defaults_fill_missing_fields_recursively() -> None:
    obj: dict[str, Any] = {"spec": {}}
    apply_defaults(obj, SCHEMA)
    assert obj["spec"]["size"] == 1
    assert obj["spec"]["color"] == "red"
    assert obj["spec"]["nested"] == {"deep": "d"}


def test_nullable_null_is_kept_and_not_defaulted_non_nullable_null_is_defaulted() -> None:
    obj: dict[str, Any] = {"spec": {"color": None, "size": None}}
    normalize(obj, SCHEMA)
    assert obj["spec"]["color"] is None
    assert obj["spec"]["size"] == 1


def test_non_nullable_null_without_default_is_dropped() -> None:
    obj: dict[str, Any] = {"spec": {"labels": None, "port": None}}
    prune_nulls(obj, SCHEMA)
    assert obj == {"spec": {}}


def test_int_or_string_values_pass_through() -> None:
    for value in (80, "http"):
        obj: dict[str, Any] = {"spec": {"port": value}}
        assert normalize(obj, SCHEMA) == []
        assert obj["spec"]["port"] == value
