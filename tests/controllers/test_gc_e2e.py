"""Garbage collection through `kubectl delete --cascade=background|foreground|orphan` on a Deployment."""

from __future__ import annotations

import base64
import json
import textwrap

import pytest
import yaml

from tests.controllers.support import Obj, Watch, client, kubectl, name_of
from tests.support.cluster import Server

pytestmark = pytest.mark.e2e


def deployment(name: str) -> str:
    return textwrap.dedent(
        f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}}}
        spec:
          replicas: 2
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec: {{containers: [{{name: c, image: x}}]}}
        ---
        """
    )


async def test_cascading_deletion(hollow: Server, ns: str) -> None:
    k = lambda *a, **kw: hollow.kubectl("-n", ns, *a, **kw)  # noqa: E731
    k("apply", "-f", "-", input=deployment("bg") + deployment("fg") + deployment("orph"))
    for d in ("bg", "fg", "orph"):
        k("rollout", "status", f"deploy/{d}", "--timeout=60s")
    gone: list[tuple[str, str]] = []
    fg_seen: list[Obj] = []

    def log(kind: str) -> object:
        def note(ev: str, o: Obj) -> None:
            if ev == "DELETED":
                gone.append((kind, name_of(o)))
            if kind == "deploy" and name_of(o) == "fg" and o["metadata"].get("deletionTimestamp"):
                fg_seen.append(o)

        return note

    api = client(hollow)
    try:
        async with Watch(api, "", "v1", "pods", ns, on_event=log("pod")) as pods, Watch(
            api, "apps", "v1", "replicasets", ns, on_event=log("rs")
        ) as rss, Watch(api, "apps", "v1", "deployments", ns, on_event=log("deploy")) as deps:

            def owned_by(prefix: str) -> tuple[list[Obj], list[Obj]]:
                return (
                    [r for r in rss.items if name_of(r).startswith(prefix + "-")],
                    [p for p in pods.items if name_of(p).startswith(prefix + "-")],
                )

            # Foreground: the Deployment stays (with the finalizer) until its ReplicaSet and pods are gone.
            await kubectl(hollow, "-n", ns, "delete", "deploy", "fg", "--cascade=foreground")
            await deps.until(lambda _: deps.get("fg") is None, what="fg deployment gone")
            assert fg_seen and "foregroundDeletion" in fg_seen[0]["metadata"]["finalizers"]
            fg_order = [g for g in gone if g[1].startswith("fg")]
            assert fg_order[-1] == ("deploy", "fg"), fg_order
            assert [kind for kind, _ in fg_order].count("pod") == 2 and ("rs", next(n for kd, n in fg_order if kd == "rs")) in fg_order
            assert fg_order.index(next(g for g in fg_order if g[0] == "rs")) < fg_order.index(("deploy", "fg"))
            assert owned_by("fg") == ([], [])

            # Background: the Deployment goes at once; the collector removes the rest.
            await kubectl(hollow, "-n", ns, "delete", "deploy", "bg", "--cascade=background")
            await pods.until(lambda _: owned_by("bg") == ([], []), what="bg replica set and pods collected")
            assert gone.index(("deploy", "bg")) < max(i for i, g in enumerate(gone) if g[0] == "rs" and g[1].startswith("bg"))

            # Orphan: the ReplicaSet survives without its owner; its pods keep theirs.
            await kubectl(hollow, "-n", ns, "delete", "deploy", "orph", "--cascade=orphan")
            await deps.until(lambda _: deps.get("orph") is None, what="orph deployment gone")
            rs_left, pods_left = owned_by("orph")
            await rss.until(lambda _: not (owned_by("orph")[0][0]["metadata"].get("ownerReferences")), what="ownerReferences removed")
            rs_left, pods_left = owned_by("orph")
            assert len(rs_left) == 1 and len(pods_left) == 2
            assert all(p["metadata"]["ownerReferences"][0]["uid"] == rs_left[0]["metadata"]["uid"] for p in pods_left)
    finally:
        await api.close()
    rs = json.loads(k("get", "rs", "-o", "json").stdout)["items"]
    assert [name_of(r) for r in rs] == [name_of(rs_left[0])]


async def test_namespace_gets_default_service_account_and_root_ca(hollow: Server, ns: str) -> None:
    k = lambda *a, **kw: hollow.kubectl("-n", ns, *a, **kw)  # noqa: E731
    ca = base64.b64decode(yaml.safe_load(hollow.kubeconfig.read_text())["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    api = client(hollow)
    try:
        async with Watch(api, "", "v1", "serviceaccounts", ns) as sas, Watch(api, "", "v1", "configmaps", ns) as cms:
            await sas.until(lambda _: sas.get("default") is not None, what="default service account")
            await cms.until(lambda _: (cms.get("kube-root-ca.crt") or {}).get("data") == {"ca.crt": ca}, what="root CA")
            k("delete", "serviceaccount", "default")
            k("patch", "configmap", "kube-root-ca.crt", "--type=merge", "-p", json.dumps({"data": {"ca.crt": "tampered"}}))
            k("delete", "configmap", "kube-root-ca.crt")
            await sas.until(lambda _: sas.get("default") is not None, what="default service account back")
            await cms.until(lambda _: (cms.get("kube-root-ca.crt") or {}).get("data") == {"ca.crt": ca}, what="root CA back")
    finally:
        await api.close()
