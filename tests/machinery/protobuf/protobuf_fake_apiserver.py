"""A throwaway HTTP server for driving the real kubectl against the protobuf codecs.

Test-only: it serves just enough legacy discovery for kubectl's generators, keeps
POSTed objects in memory (decoding protobuf bodies with ``decode_k8s_envelope``),
records every request body, and serves ``/openapi/v2`` from
``openapi_v2_protobuf``.  It is not the API server.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from kybernetes.machinery.protobuf import decode_k8s_envelope, openapi_v2_protobuf_media_type

# (group, version) -> [(resource, kind, namespaced)]
RESOURCES: dict[tuple[str, str], list[tuple[str, str, bool]]] = {
    ("", "v1"): [
        ("namespaces", "Namespace", False),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("resourcequotas", "ResourceQuota", True),
        ("pods", "Pod", True),
    ],
    ("apps", "v1"): [("deployments", "Deployment", True), ("deployments/scale", "Scale", True)],
    ("batch", "v1"): [("jobs", "Job", True), ("cronjobs", "CronJob", True)],
    ("rbac.authorization.k8s.io", "v1"): [
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
    ],
    ("policy", "v1"): [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    ("scheduling.k8s.io", "v1"): [("priorityclasses", "PriorityClass", False)],
    ("networking.k8s.io", "v1"): [("ingresses", "Ingress", True)],
    ("autoscaling", "v2"): [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
    ("authorization.k8s.io", "v1"): [
        ("selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
        ("selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
    ],
    ("authentication.k8s.io", "v1"): [("selfsubjectreviews", "SelfSubjectReview", False)],
}


@dataclass
class Recorded:
    method: str
    path: str
    content_type: str
    body: bytes
    query: str = ""


@dataclass
class FakeServer:
    openapi_v2: bytes = b""
    requests: list[Recorded] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @staticmethod
    def _json(obj: Any, status: int = 200) -> web.Response:
        return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")

    def _discovery(self, path: str) -> web.Response | None:
        if path == "/api":
            return self._json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if path == "/apis":
            groups = []
            for g, v in RESOURCES:
                if g:
                    gv = {"groupVersion": f"{g}/{v}", "version": v}
                    groups.append({"name": g, "versions": [gv], "preferredVersion": gv})
            return self._json({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        for (g, v), res in RESOURCES.items():
            prefix = f"/apis/{g}/{v}" if g else f"/api/{v}"
            if path == prefix:
                rl = [
                    {
                        "name": r,
                        "singularName": k.lower(),
                        "namespaced": ns,
                        "kind": k,
                        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                    }
                    for r, k, ns in res
                ]
                if g == "":
                    rl.append(
                        {
                            "name": "serviceaccounts/token",
                            "singularName": "",
                            "namespaced": True,
                            "group": "authentication.k8s.io",
                            "version": "v1",
                            "kind": "TokenRequest",
                            "verbs": ["create"],
                        }
                    )
                return self._json(
                    {
                        "kind": "APIResourceList",
                        "apiVersion": "v1",
                        "groupVersion": f"{g}/{v}" if g else v,
                        "resources": rl,
                    }
                )
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        body = await request.read()
        ctype = request.headers.get("Content-Type", "")
        self.requests.append(Recorded(request.method, path, ctype, body, request.query_string))
        if path == "/openapi/v2":
            media = openapi_v2_protobuf_media_type(request.headers.get("Accept", ""))
            if media and self.openapi_v2:
                return web.Response(body=self.openapi_v2, headers={"Content-Type": media})
            return web.Response(status=404)
        if path in ("/version", "/version/"):
            return self._json({"major": "1", "minor": "33", "gitVersion": "v1.33.0"})
        if request.method == "GET":
            d = self._discovery(path)
            if d is not None:
                return d
            if path in self.objects:
                return self._json(self.objects[path])
            return self._json(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                    "message": "not found",
                },
                status=404,
            )
        if request.method in ("POST", "PUT"):
            if "protobuf" in ctype:
                obj = decode_k8s_envelope(body)
            else:
                obj = orjson.loads(body)
            kind = obj.get("kind", "")
            if kind in ("SelfSubjectAccessReview",):
                obj["status"] = {"allowed": True}
            elif kind == "SelfSubjectRulesReview":
                obj["status"] = {"resourceRules": [], "nonResourceRules": [], "incomplete": False}
            elif kind == "SelfSubjectReview":
                obj["status"] = {"userInfo": {"username": "tester"}}
            elif kind == "TokenRequest":
                obj["status"] = {"token": "abc", "expirationTimestamp": "2030-01-01T00:00:00Z"}
            else:
                name = (obj.get("metadata") or {}).get("name", "")
                self.objects[f"{path}/{name}"] = obj
            return self._json(obj, status=201)
        return self._json({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200})


def kubectl_binary(version: str) -> str | None:
    """A versioned kubectl (``kubectl.1.27``…) on PATH or in the Cloud SDK folder, if installed."""
    name = f"kubectl.{version}"
    found = shutil.which(name)
    if found:
        return found
    kubectl = shutil.which("kubectl")
    if kubectl:
        candidate = os.path.join(os.path.dirname(os.path.realpath(kubectl)), name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _write_kubeconfig(path: str, port: int) -> None:
    with open(path, "w") as fh:
        fh.write(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
            f"    server: http://127.0.0.1:{port}\ncontexts:\n- name: c\n  context:\n    cluster: c\n"
            "    user: u\n    namespace: default\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n"
        )


def write_file(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


async def run_kubectl(
    binary: str, port: int, *args: str, deadline: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run kubectl against the fake server with a throwaway kubeconfig and cache dir."""
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = os.path.join(tmp, "config")
        _write_kubeconfig(kubeconfig, port)
        cache = os.path.join(tmp, "cache")
        env = dict(os.environ, KUBECONFIG=kubeconfig, HOME=tmp, KUBECACHEDIR=cache)
        proc = await asyncio.create_subprocess_exec(
            binary,
            "--cache-dir",
            cache,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), deadline)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        return subprocess.CompletedProcess([binary, *args], proc.returncode or 0, out.decode(), err.decode())
