"""The real kubectl renders our Tables: default and -o wide columns, -A, --show-labels, -L, watch, CRDs.

A throwaway aiohttp server serves just discovery plus list/watch answers built by table_for();
it exists only to show that kubectl accepts and prints what the printers produce.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web

from kybernetes.apiserver.printers import CRD_DEFAULT_COLUMNS, table_for

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

NOW = datetime.now(UTC).replace(microsecond=0)


def ts(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, ns: str | None = "default", **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "name": name,
        "uid": f"uid-{name}",
        "resourceVersion": "7",
        "creationTimestamp": ts(minutes=5),
        **extra,
    }
    if ns:
        m["namespace"] = ns
    return m


PODS = [
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("web-0", labels={"app": "web", "tier": "front"}),
        "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "nginx"}]},
        "status": {
            "phase": "Running",
            "podIP": "10.244.0.5",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": True,
                    "restartCount": 2,
                    "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": ts(minutes=3)}},
                }
            ],
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("batch-1", ns="jobs", labels={"app": "batch"}),
        "spec": {"containers": [{"name": "main"}], "initContainers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [{"name": "a", "state": {"running": {}}}]},
    },
]

DEPLOYMENTS = [
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta("web"),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}},
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
]

WIDGETS = [
    {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": meta("w1"),
        "spec": {"size": 3},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
]
WIDGET_COLUMNS = [
    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "priority": 1,
    },
    *CRD_DEFAULT_COLUMNS,
]


def _resource(name: str, kind: str, namespaced: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "singularName": "",
        "namespaced": namespaced,
        "kind": kind,
        "verbs": ["get", "list", "watch"],
    }


DISCOVERY: dict[str, Any] = {
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
            }
            for g in ("apps", "example.com")
        ],
    },
    "/api/v1": {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [_resource("pods", "Pod"), _resource("configmaps", "ConfigMap")],
    },
    "/apis/apps/v1": {
        "kind": "APIResourceList",
        "groupVersion": "apps/v1",
        "resources": [_resource("deployments", "Deployment")],
    },
    "/apis/example.com/v1": {
        "kind": "APIResourceList",
        "groupVersion": "example.com/v1",
        "resources": [_resource("widgets", "Widget")],
    },
}

LIST_RE = re.compile(r"^/(?:api|apis/(?P<group>[^/]+))/v1(?:/namespaces/(?P<ns>[^/]+))?/(?P<resource>[^/]+)$")
STORE: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("", "pods"): PODS,
    ("", "configmaps"): [{"metadata": meta(f"cm-{i}"), "data": {"k": "v"}} for i in range(3)],
    ("apps", "deployments"): DEPLOYMENTS,
    ("example.com", "widgets"): WIDGETS,
}


async def handle(request: web.Request) -> web.StreamResponse:
    path = request.path
    if path in DISCOVERY:
        return web.json_response(DISCOVERY[path])
    m = LIST_RE.match(path)
    if m is None:
        return web.json_response(
            {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound"},
            status=404,
        )
    group, ns, resource = m.group("group") or "", m.group("ns"), m.group("resource")
    items = [
        o for o in STORE.get((group, resource), []) if ns is None or o["metadata"].get("namespace") == ns
    ]
    extra = WIDGET_COLUMNS if resource == "widgets" else None
    include = request.query.get("includeObject", "Metadata")
    if "as=Table" not in request.headers.get("Accept", ""):
        return web.json_response(
            {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "9"}, "items": items}
        )
    if request.query.get("watch") in ("1", "true"):
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        for i, obj in enumerate(items):
            # headers only on the first event, as upstream's watch encoder does
            table = table_for(
                group, resource, [obj], now=NOW, include_object=include, no_headers=i > 0, extra_columns=extra
            )
            await resp.write(orjson.dumps({"type": "ADDED", "object": table}) + b"\n")
        await resp.write_eof()
        return resp
    table = table_for(
        group,
        resource,
        items,
        now=NOW,
        include_object=include,
        list_meta={"resourceVersion": "9"},
        extra_columns=extra,
    )
    return web.json_response(table)


@pytest.fixture
async def server() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        await runner.cleanup()


def _write_kubeconfig(path: str, port: int) -> None:
    with open(path, "w") as fh:
        fh.write(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
            f"    server: http://127.0.0.1:{port}\ncontexts:\n- name: c\n  context:\n    cluster: c\n"
            "    user: u\n    namespace: default\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n"
        )


async def kubectl(port: int, *args: str) -> list[list[str]]:
    """Run kubectl; return its output lines split into cells (columns are 3+ spaces apart)."""
    assert KUBECTL is not None
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "config")
        _write_kubeconfig(config, port)
        env = dict(os.environ, KUBECONFIG=config, HOME=tmp)
        proc = await asyncio.create_subprocess_exec(
            KUBECTL,
            "--cache-dir",
            os.path.join(tmp, "cache"),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return [re.split(r"\s{3,}", line.rstrip()) for line in out.decode().splitlines() if line.strip()]


async def test_get_pods(server: int) -> None:
    assert await kubectl(server, "get", "pods") == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["web-0", "1/1", "Running", "2 (3m ago)", "5m"],
    ]


async def test_get_pods_wide_all_namespaces_labels(server: int) -> None:
    assert await kubectl(server, "get", "pods", "-A", "-o", "wide", "--show-labels") == [
        [
            "NAMESPACE",
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES",
            "LABELS",
        ],
        [
            "default",
            "web-0",
            "1/1",
            "Running",
            "2 (3m ago)",
            "5m",
            "10.244.0.5",
            "node-a",
            "<none>",
            "<none>",
            "app=web,tier=front",
        ],
        [
            "jobs",
            "batch-1",
            "0/1",
            "Init:0/2",
            "0",
            "5m",
            "<none>",
            "<none>",
            "<none>",
            "<none>",
            "app=batch",
        ],
    ]


async def test_get_label_columns(server: int) -> None:
    assert await kubectl(server, "get", "pods", "-L", "tier") == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "TIER"],
        ["web-0", "1/1", "Running", "2 (3m ago)", "5m", "front"],
    ]


async def test_get_deployments_wide(server: int) -> None:
    assert await kubectl(server, "get", "deployments", "-o", "wide") == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
        ["web", "2/3", "3", "2", "5m", "nginx", "nginx:1.27", "app=web"],
    ]


async def test_get_custom_resources(server: int) -> None:
    assert await kubectl(server, "get", "widgets") == [["NAME", "SIZE", "AGE"], ["w1", "3", "5m"]]
    assert await kubectl(server, "get", "widgets", "-o", "wide") == [
        ["NAME", "SIZE", "READY", "AGE"],
        ["w1", "3", "True", "5m"],
    ]


async def test_watch_reuses_first_event_headers(server: int) -> None:
    assert await kubectl(server, "get", "configmaps", "--watch-only") == [
        ["NAME", "DATA", "AGE"],
        ["cm-0", "1", "5m"],
        ["cm-1", "1", "5m"],
        ["cm-2", "1", "5m"],
    ]


async def test_no_headers_flag(server: int) -> None:
    assert await kubectl(server, "get", "configmaps", "--no-headers") == [
        ["cm-0", "1", "5m"],
        ["cm-1", "1", "5m"],
        ["cm-2", "1", "5m"],
    ]
