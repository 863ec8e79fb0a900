"""Printers for rbac.authorization.k8s.io.

Only the bindings have printers upstream; roles and cluster roles are served by the default table
(NAME, CREATED AT), which table_for() applies to every (group, resource) missing from a registry.
"""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.printers._common import (
    AGE,
    NAME,
    Column,
    Context,
    JSONDict,
    Printer,
    Registry,
    creation_age,
    dicts,
    glist,
    gstr,
    name_of,
)
from kybernetes.apiserver.printers._descriptions import doc


def subjects_strings(subjects: list[Any]) -> tuple[list[str], list[str], list[str]]:
    """rbac.SubjectsStrings: users, groups and "namespace/name" service accounts (others dropped)."""
    users: list[str] = []
    groups: list[str] = []
    sas: list[str] = []
    for s in dicts(subjects):
        kind = gstr(s, "kind")
        if kind == "ServiceAccount":
            sas.append(f"{gstr(s, 'namespace')}/{gstr(s, 'name')}")
        elif kind == "User":
            users.append(gstr(s, "name"))
        elif kind == "Group":
            groups.append(gstr(s, "name"))
    return users, groups, sas


def _binding_columns(what: str, role_doc: str) -> tuple[Column, ...]:
    return (
        NAME,
        Column("Role", "string", doc(role_doc)),
        AGE,
        Column("Users", "string", f"Users in the {what}", priority=1),
        Column("Groups", "string", f"Groups in the {what}", priority=1),
        Column("ServiceAccounts", "string", f"ServiceAccounts in the {what}", priority=1),
    )


ROLE_BINDING_COLUMNS = _binding_columns("roleBinding", "RoleBinding.roleRef")
CLUSTER_ROLE_BINDING_COLUMNS = _binding_columns("clusterRoleBinding", "ClusterRoleBinding.roleRef")


def binding_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printRoleBinding / printClusterRoleBinding: ROLE as Kind/name, wide subjects joined by ", "."""
    users, groups, sas = subjects_strings(glist(obj, "subjects"))
    return [
        name_of(obj),
        f"{gstr(obj, 'roleRef', 'kind')}/{gstr(obj, 'roleRef', 'name')}",
        creation_age(obj, ctx.now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]


PRINTERS: Registry = {
    ("rbac.authorization.k8s.io", "rolebindings"): Printer(ROLE_BINDING_COLUMNS, binding_row),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): Printer(CLUSTER_ROLE_BINDING_COLUMNS, binding_row),
}
