"""Server-side printing: meta.k8s.io/v1 Table responses for every built-in kind.

`kubectl get` asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the cells it gets
verbatim, so the columns and cell strings here reproduce upstream's
pkg/printers/internalversion/printers.go (plus the aggregator's APIService convertor, the generic
default convertor and the CRD additionalPrinterColumns convertor).

Behaviour that follows upstream and is easy to get wrong:

* The server always prints "wide": every column, including `priority: 1` ones, has a cell; kubectl
  drops priority columns unless `-o wide`.
* `no_headers=True` (TableOptions.noHeaders, which the watch handler turns on after the first
  event) leaves `columnDefinitions` as JSON null, exactly as upstream serializes the nil slice
  (the field has no omitempty). kubectl then reuses the columns of the first event. APIService
  ignores the option, as its upstream convertor does.
* Rows carry PartialObjectMetadata by default (includeObject=Metadata), the full object with
  includeObject=Object and null with includeObject=None.
* Kinds without a printer (roles, clusterroles, limitranges, CRDs, CSIStorageCapacity, anything
  unknown) get the default table: Name and "Created At" (type date, an RFC3339 UTC timestamp).
* Rows keep the input order, except FlowSchemas, which upstream's list printer sorts by
  matching precedence and name.

One deliberate difference: upstream's default convertor leaves `rows` null for an empty list;
here `rows` is always a list, which every client (kubectl included) treats the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kybernetes.apiserver.printers import apps, batch, core, misc, networking, rbac, storage
from kybernetes.apiserver.printers._common import (
    NAME,
    Column,
    Context,
    JSONDict,
    Printer,
    Registry,
    age,
    as_int,
    format_rfc3339_utc,
    get,
    go_float_str,
    human_duration,
    name_of,
    parse_time,
    short_human_duration,
)
from kybernetes.apiserver.printers._descriptions import doc
from kybernetes.apiserver.printers.jsonpath import JSONPath, JSONPathError

__all__ = [
    "CRD_DEFAULT_COLUMNS",
    "DEFAULT_COLUMNS",
    "PRINTERS",
    "TABLE_API_VERSION",
    "Column",
    "InvalidIncludeObjectError",
    "Printer",
    "age",
    "human_duration",
    "printer_for",
    "short_human_duration",
    "table_for",
]

log = logging.getLogger(__name__)

TABLE_API_VERSION = "meta.k8s.io/v1"

INCLUDE_METADATA = "Metadata"
INCLUDE_OBJECT = "Object"
INCLUDE_NONE = "None"


def _merge(*registries: Registry) -> Registry:
    merged: Registry = {}
    for r in registries:
        overlap = merged.keys() & r.keys()
        if overlap:
            raise RuntimeError(f"printer registered twice: {sorted(overlap)}")
        merged.update(r)
    return merged


PRINTERS: Registry = _merge(
    core.PRINTERS,
    apps.PRINTERS,
    batch.PRINTERS,
    networking.PRINTERS,
    rbac.PRINTERS,
    storage.PRINTERS,
    misc.PRINTERS,
)

# rest.defaultTableConvertor, used for every resource without a printer.
DEFAULT_COLUMNS = (NAME, Column("Created At", "date", doc("ObjectMeta.creationTimestamp")))

# What apiextensions serves when a CRD version declares no additionalPrinterColumns
# (serveDefaultColumnsIfEmpty); pass it as extra_columns in that case.
CRD_DEFAULT_COLUMNS: tuple[JSONDict, ...] = (
    {
        "name": "Age",
        "type": "date",
        "format": "",
        "description": doc("ObjectMeta.creationTimestamp"),
        "priority": 0,
        "jsonPath": ".metadata.creationTimestamp",
    },
)


class InvalidIncludeObjectError(ValueError):
    """includeObject is not one of Metadata, Object, None (upstream answers 400 Bad Request)."""


def printer_for(group: str, resource: str) -> Printer | None:
    """The registered printer for a resource, None when the default table applies."""
    return PRINTERS.get((group, resource))


def _default_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """rest.defaultTableConvertor: the name and the creation time as an RFC3339 UTC timestamp."""
    return [name_of(obj), format_rfc3339_utc(get(obj, "metadata", "creationTimestamp"))]


_DEFAULT_PRINTER = Printer(DEFAULT_COLUMNS, _default_row)


# ---------------------------------------------------------------------------------------------
# CRD additionalPrinterColumns
# ---------------------------------------------------------------------------------------------


def _crd_printer(extra_columns: Sequence[Mapping[str, Any]]) -> Printer:
    """tableconvertor.New: Name, then one column per definition evaluated with its JSONPath.

    Like upstream, a definition whose path does not compile ends the column list there.
    """
    columns: list[Column] = [NAME]
    paths: list[JSONPath] = []
    for col in extra_columns:
        path_text = col.get("jsonPath")
        try:
            if not isinstance(path_text, str):
                raise JSONPathError(f"missing jsonPath in column {col.get('name')!r}")
            path = JSONPath(path_text)
        except JSONPathError as e:
            log.warning("unrecognized printer column definition %r: %s", path_text, e)
            break
        description = col.get("description")
        if not isinstance(description, str) or not description:
            description = f"Custom resource definition column (in JSONPath format): {path_text}"
        priority = col.get("priority")
        columns.append(
            Column(
                name=str(col.get("name") or ""),
                type=str(col.get("type") or ""),
                description=description,
                format=str(col.get("format") or ""),
                priority=as_int(priority),
            )
        )
        paths.append(path)
    types = [c.type for c in columns[1:]]

    def row(obj: JSONDict, ctx: Context) -> list[Any]:
        cells: list[Any] = [name_of(obj)]
        for path, ctype in zip(paths, types, strict=True):
            found, value = path.first(obj)
            if not found:
                cells.append(None)
            elif ctype == "string":
                cells.append(_jsonpath_text(value))
            else:
                cells.append(_cell_for_json_value(ctype, value, ctx))
        return cells

    return Printer(tuple(columns), row)


def _jsonpath_text(value: Any) -> str | None:
    """How client-go's jsonpath prints one result: text for scalars, compact JSON for maps and lists."""

    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float_str(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _cell_for_json_value(ctype: str, value: Any, ctx: Context) -> Any:
    """cellForJSONValue: typed cells; "date" renders as an age, "<invalid>" when it does not parse."""
    if value is None:
        return None
    if ctype == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
    elif ctype == "number":
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return float(value)
    elif ctype == "boolean":
        if isinstance(value, bool):
            return value
    elif ctype == "date":
        if isinstance(value, str):
            if value in ("", "null"):
                return "<unknown>"
            ts = parse_time(value)
            if ts is None:
                return "<unknown>" if value.startswith("0001-01-01T00:00:00") else "<invalid>"
            return age(value, ctx.now)
    return None


# ---------------------------------------------------------------------------------------------
# the Table
# ---------------------------------------------------------------------------------------------


def _row_object(obj: JSONDict, include_object: str, api_version: str) -> Any:
    if include_object == INCLUDE_OBJECT:
        return obj
    if include_object == INCLUDE_NONE:
        return None
    metadata = obj.get("metadata")
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": api_version,
        "metadata": metadata if isinstance(metadata, dict) else {},
    }


def _list_metadata(list_meta: Mapping[str, Any] | None) -> JSONDict:
    """ListMeta with upstream's omitempty rules (remainingItemCount is a pointer: 0 is kept)."""
    out: JSONDict = {}
    if not list_meta:
        return out
    for key in ("selfLink", "resourceVersion", "continue"):
        v = list_meta.get(key)
        if isinstance(v, str) and v:
            out[key] = v
    remaining = list_meta.get("remainingItemCount")
    if remaining is not None:
        out["remainingItemCount"] = remaining
    return out


def _cells(printer: Printer, obj: JSONDict, ctx: Context) -> list[Any]:
    """Run a row function; a bug must cost one row's cells, not the whole `kubectl get`."""
    try:
        return printer.row(obj, ctx)
    except Exception:
        log.exception("printing %s failed", name_of(obj))
        return [name_of(obj)] + ["<unknown>"] * (len(printer.columns) - 1)


def table_for(
    group: str,
    resource: str,
    objects: list[dict[str, Any]],
    *,
    now: datetime | None = None,
    include_object: str = INCLUDE_METADATA,
    list_meta: dict[str, Any] | None = None,
    no_headers: bool = False,
    extra_columns: list[dict[str, Any]] | None = None,
    api_version: str = TABLE_API_VERSION,
) -> dict[str, Any]:
    """Build the Table for `objects` of `group`/`resource` ("" is the core group).

    `objects` are external JSON objects in the version the client asked for; one object (a GET) is
    passed as a one-element list, with `list_meta={"resourceVersion": <its resourceVersion>}` to
    match upstream's table metadata. `list_meta` otherwise carries the list's resourceVersion,
    continue and remainingItemCount. `extra_columns` switches to the CRD convertor: the Name column
    followed by the given additionalPrinterColumns (use CRD_DEFAULT_COLUMNS when a CRD declares
    none). `api_version` is the Table's group/version (meta.k8s.io/v1beta1 is the same shape).
    `now` pins the clock for ages. Raises InvalidIncludeObjectError for an unknown includeObject.
    """
    if include_object == "":
        include_object = INCLUDE_METADATA
    if include_object not in (INCLUDE_METADATA, INCLUDE_OBJECT, INCLUDE_NONE):
        raise InvalidIncludeObjectError(f"unrecognized includeObject value: {include_object!r}")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    ctx = Context(now=now)

    if extra_columns is not None:
        printer = _crd_printer(extra_columns)
    else:
        printer = PRINTERS.get((group, resource), _DEFAULT_PRINTER)

    items: list[JSONDict] = [o if isinstance(o, dict) else {} for o in objects]
    if printer.sort_key is not None and len(items) > 1:
        items = sorted(items, key=printer.sort_key)

    rows: list[JSONDict] = []
    for obj in items:
        printable = printer.prepare(obj) if printer.prepare is not None else obj
        row: JSONDict = {"cells": _cells(printer, printable, ctx)}
        if printer.conditions is not None:
            conditions = printer.conditions(printable)
            if conditions:
                row["conditions"] = conditions
        row["object"] = _row_object(obj, include_object, api_version)
        rows.append(row)

    columns: list[JSONDict] | None = None
    if not no_headers or printer.always_headers:
        columns = [c.definition() for c in printer.columns]
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": _list_metadata(list_meta),
        "columnDefinitions": columns,
        "rows": rows,
    }
