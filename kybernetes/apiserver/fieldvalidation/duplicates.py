"""Re-reading a raw body to see what orjson hides: keys written twice in one object.

orjson (like Go's encoding/json) keeps the last of two equal keys, so duplicates can only be found in the bytes.
These parses run only when a request asks for field validation (Strict or Warn) and cost one extra pass over the
body: the stdlib JSON scanner with a pairs hook for JSON, PyYAML's composer (which keeps line numbers, the form
upstream's YAML decoder reports for server-side apply) for YAML.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from kybernetes.apiserver.fieldvalidation.walk import Pairs

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_pairs(body: bytes) -> Any | None:
    """The JSON document with every object as `Pairs`; None when the body is not JSON."""
    try:
        return json.loads(body, object_pairs_hook=Pairs)
    except (ValueError, RecursionError):
        return None


def yaml_duplicate_keys(body: bytes) -> list[str]:
    """yaml.v2's strict-unmarshal complaints about repeated mapping keys, e.g. `line 1: key "a" already set in map`."""
    try:
        root = yaml.compose(body, Loader=_Loader)
    except yaml.YAMLError:
        return []
    out: list[str] = []
    if root is not None:
        _mapping_duplicates(root, out)
    return out


def _mapping_duplicates(node: yaml.Node, out: list[str]) -> None:
    """Depth-first in document order, the order yaml.v2 reports them in."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            text = str(key.value)
            if text in seen:
                out.append(f"line {key.start_mark.line + 1}: key {json.dumps(text)} already set in map")
            seen.add(text)
            _mapping_duplicates(value, out)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _mapping_duplicates(item, out)
