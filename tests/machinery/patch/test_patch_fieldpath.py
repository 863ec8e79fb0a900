"""Field paths, field sets and their FieldsV1 encoding."""

from __future__ import annotations

import pytest

from kybernetes.machinery.patch import FieldSet, PathElement, make_path, path_string


def test_path_element_order_follows_upstream() -> None:
    elements = [
        PathElement.index(0),
        PathElement.of_value("a"),
        PathElement.key([("name", "x")]),
        PathElement.field("z"),
        PathElement.of_value(1),
        PathElement.field("a"),
    ]
    assert [e.serialize() for e in sorted(elements)] == [
        "f:a",
        "f:z",
        'k:{"name":"x"}',
        "v:1",
        'v:"a"',
        "i:0",
    ]


def test_values_of_different_json_types_differ() -> None:
    assert PathElement.of_value(1) == PathElement.of_value(1.0)
    assert PathElement.of_value(True) != PathElement.of_value(1)
    assert len({PathElement.of_value(True), PathElement.of_value(1)}) == 2


def test_key_fields_are_sorted_by_name() -> None:
    pe = PathElement.key([("protocol", "TCP"), ("containerPort", 80)])
    assert pe.serialize() == 'k:{"containerPort":80,"protocol":"TCP"}'
    assert str(pe) == '[containerPort=80,protocol="TCP"]'
    assert PathElement.parse(pe.serialize()) == pe


@pytest.mark.parametrize(
    "text", ["f:metadata", 'k:{"name":"a b"}', "v:true", 'v:"x"', "i:3", 'k:{"a":1,"b":"c"}']
)
def test_parse_serialize_round_trip(text: str) -> None:
    assert PathElement.parse(text).serialize() == text


def test_go_json_escaping_in_keys() -> None:
    assert PathElement.key([("name", "<&>")]).serialize() == 'k:{"name":"\\u003c\\u0026\\u003e"}'


def test_path_strings() -> None:
    path = make_path("spec", "template", "spec", "containers", PathElement.key([("name", "nginx")]), "image")
    assert path_string(path) == '.spec.template.spec.containers[name="nginx"].image'
    assert (
        path_string(make_path("metadata", "finalizers", PathElement.of_value("x")))
        == '.metadata.finalizers[="x"]'
    )
    assert path_string(make_path("spec", "args", 2)) == ".spec.args[2]"


def test_fields_v1_members_and_children() -> None:
    item = PathElement.key([("name", "c")])
    fields = FieldSet.from_paths(
        [
            make_path("spec", "containers", item),
            make_path("spec", "containers", item, "image"),
            make_path("metadata", "labels", "app"),
            make_path("spec", "replicas"),
        ]
    )
    assert fields.to_fields_v1() == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:image": {}}}, "f:replicas": {}},
    }
    assert list(fields.to_fields_v1()["f:spec"]) == ["f:containers", "f:replicas"]
    assert FieldSet.from_fields_v1(fields.to_fields_v1()) == fields


def test_unknown_prefixes_are_skipped() -> None:
    fields = FieldSet.from_fields_v1({"f:a": {}, "x:future": {}, "f:b": {"z:what": {}}})
    assert fields == FieldSet.from_paths([make_path("a"), make_path("b")])


def test_set_operations() -> None:
    a = FieldSet.from_paths([make_path("s", "x"), make_path("s", "y"), make_path("m")])
    b = FieldSet.from_paths([make_path("s", "x"), make_path("m", "deep")])
    assert a.difference(b) == FieldSet.from_paths([make_path("s", "y"), make_path("m")])
    assert a.intersection(b) == FieldSet.from_paths([make_path("s", "x")])
    assert FieldSet.from_paths([make_path("m", "deep"), make_path("q")]).recursive_difference(a) == (
        FieldSet.from_paths([make_path("q")])
    )
    assert not FieldSet().has(())
    assert FieldSet().empty() and not a.empty()
