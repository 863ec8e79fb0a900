"""Column descriptions are upstream's field docs: each must be a field description of the shipped OpenAPI."""

from __future__ import annotations

import gzip
import json
from importlib import resources

from kybernetes.apiserver.printers import PRINTERS
from kybernetes.apiserver.printers._descriptions import DESCRIPTIONS, doc


def _openapi_descriptions() -> dict[str, set[str]]:
    raw = resources.files("kybernetes.api").joinpath("data/swagger.json.gz").read_bytes()
    definitions = json.loads(gzip.decompress(raw))["definitions"]
    by_field: dict[str, set[str]] = {}
    for name, schema in definitions.items():
        type_name = name.rsplit(".", 1)[-1]
        for field, prop in (schema.get("properties") or {}).items():
            by_field.setdefault(f"{type_name}.{field}", set()).add(prop.get("description", ""))
    return by_field


def test_descriptions_match_the_openapi_field_docs() -> None:
    known = _openapi_descriptions()
    for key, text in DESCRIPTIONS.items():
        assert text in known.get(key, set()), key


def test_unknown_description_is_empty_like_swaggerdoc() -> None:
    assert doc("ObjectMeta.binaryVersion") == ""


def test_every_column_has_a_description_except_upstream_gaps() -> None:
    # upstream reads these from ObjectMeta, which has no such fields, and so sends ""
    gaps = {
        ("coordination.k8s.io", "leasecandidates"): {"BinaryVersion", "EmulationVersion"},
        ("node.k8s.io", "runtimeclasses"): {"Handler"},
    }
    for key, printer in PRINTERS.items():
        empty = {c.name for c in printer.columns if not c.description}
        assert empty == gaps.get(key, set()), key
