"""Type-driven defaulting: upstream's generated `SetObjectDefaults_*`, rebuilt from the OpenAPI schema.

Why this shape: upstream registers defaulting per Go *type* (`SetDefaults_Container`, `SetDefaults_PodSpec`,
`SetDefaults_Probe`...) and generates, per kind, a function that finds every occurrence of those types in the
object: a PodSpec in a Pod, a Deployment template or a CronJob's job template gets the same defaults. The schema
navigator knows where each definition occurs, so one walker plus a table `definition name -> setters` covers every
kind and every version without per-kind code. Besides the hand-written setters it applies what the schema itself
declares: non-zero `default` values (`protocol: TCP`, `replicas: 1`) and Go's zero value for absent non-pointer
structs (`resources: {}`, `status: {}`, a template's `metadata.creationTimestamp: null`), which is how upstream's
JSON always renders them.

Per definition the work is planned once (which setters, which declared defaults, which fields can lead to more
work), so a walk only descends into the parts of an object where something can be defaulted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.machinery.patch.schema import Kind, Navigator, Node, zero_value

Setter = Callable[[dict[str, Any]], None]
SetterTable = Mapping[str, Sequence[Setter]]


@dataclass(frozen=True, slots=True)
class _Plan:
    structs: tuple[tuple[str, Node], ...]  # absent non-pointer structs: materialize their zero value
    setters: tuple[Setter, ...]  # SetDefaults_<Type>, in registration order
    scalars: tuple[tuple[str, Any], ...]  # declared non-zero defaults
    children: tuple[tuple[str, Node], ...]  # fields below which something may be defaulted


def _is_zero(value: Any) -> bool:
    return value in ("", 0, False, None) or value == {} or value == []


def _is_struct(node: Node) -> bool:
    return node.kind is Kind.OBJECT and bool(node.target.get("properties"))


class SchemaDefaulter:
    """Applies a setter table plus the schema's declared defaults to objects of any built-in kind."""

    def __init__(self, navigator: Navigator, setters: SetterTable) -> None:
        self.nav = navigator
        self.setters = setters
        self._plans: dict[str, _Plan | None] = {}
        self._building: set[str] = set()

    def default(self, obj: dict[str, Any]) -> None:
        """Default `obj` in place according to its own apiVersion and kind; unknown kinds are left alone."""
        node = self.nav.for_object(obj)
        if node is not None:
            self._apply(node, obj)

    # ------------------------------------------------------------------ planning
    def _plan(self, node: Node) -> _Plan | None:
        name = node.def_name
        if name is None:
            return None
        if name in self._plans:
            return self._plans[name]
        if name in self._building:
            return None  # a recursive type (JSONSchemaProps); none of them has defaults
        self._building.add(name)
        try:
            plan = self._build(name, node)
        finally:
            self._building.discard(name)
        self._plans[name] = plan
        return plan

    def _build(self, name: str, node: Node) -> _Plan | None:
        if not _is_struct(node):
            return None
        structs: list[tuple[str, Node]] = []
        scalars: list[tuple[str, Any]] = []
        children: list[tuple[str, Node]] = []
        for field, child in node.fields().items():
            if child.has_default and child.default == {} and _is_struct(child):
                structs.append((field, child))
            elif child.has_default and not _is_zero(child.default) and child.kind is Kind.SCALAR:
                scalars.append((field, child.default))
            if self._has_work(child):
                children.append((field, child))
        setters = tuple(self.setters.get(name, ()))
        if not (structs or scalars or children or setters):
            return None
        return _Plan(tuple(structs), setters, tuple(scalars), tuple(children))

    def _has_work(self, node: Node) -> bool:
        if node.def_name is not None:
            return self._plan(node) is not None
        if node.kind is Kind.LIST:
            return self._has_work(node.item())
        values = _map_values(node)
        return values is not None and self._has_work(values)

    # ------------------------------------------------------------------- walking
    def _apply(self, node: Node, value: Any) -> None:
        if isinstance(value, dict):
            plan = self._plan(node)
            if plan is not None:
                self._apply_plan(plan, value)
                return
            values = _map_values(node)
            if values is not None and self._has_work(values):
                for child in value.values():
                    self._apply(values, child)
        elif isinstance(value, list) and node.kind is Kind.LIST:
            item = node.item()
            if self._has_work(item):
                for child in value:
                    self._apply(item, child)

    def _apply_plan(self, plan: _Plan, value: dict[str, Any]) -> None:
        for field, child in plan.structs:
            if value.get(field) is None:
                value[field] = zero_value(child)
        for setter in plan.setters:
            setter(value)
        for field, default in plan.scalars:
            if value.get(field) in (None, ""):
                value[field] = default
        for field, child in plan.children:
            sub = value.get(field)
            if sub is not None:
                self._apply(child, sub)


def _map_values(node: Node) -> Node | None:
    if node.kind is Kind.OBJECT and isinstance(node.target.get("additionalProperties"), dict):
        return node.values()
    return None
