"""ReplicationControllers (the ReplicaSet controller with the legacy kind): scale up and down, adopt and release."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.controllers.support import Watch, client, is_active, is_ready, name_of
from tests.support.cluster import Server

pytestmark = pytest.mark.e2e

RC = textwrap.dedent(
    """
    apiVersion: v1
    kind: ReplicationController
    metadata: {name: legacy}
    spec:
      replicas: 3
      selector: {app: legacy}
      template:
        metadata: {labels: {app: legacy}}
        spec: {containers: [{name: c, image: x}]}
    """
)


async def test_replication_controller(hollow: Server, ns: str) -> None:
    k = lambda *a, **kw: hollow.kubectl("-n", ns, *a, **kw)  # noqa: E731
    api = client(hollow)
    try:
        async with Watch(api, "", "v1", "pods", ns) as pods, Watch(api, "", "v1", "replicationcontrollers", ns) as rcs:
            k("apply", "-f", "-", input=RC)
            await pods.until(lambda ps: sum(1 for p in ps if is_active(p) and is_ready(p)) == 3, what="3 ready pods")
            st = (await rcs.until(lambda r: bool(r) and r[0].get("status", {}).get("readyReplicas") == 3, what="rc status"))[0]["status"]
            assert st["replicas"] == 3 and st["availableReplicas"] == 3 and st["fullyLabeledReplicas"] == 3
            for p in pods.items:
                ref = p["metadata"]["ownerReferences"][0]
                assert (ref["kind"], ref["controller"], ref["blockOwnerDeletion"]) == ("ReplicationController", True, True)
            # Release: a pod relabelled out of the selector is let go (and replaced); adopt: it comes back.
            stray = name_of(pods.items[0])
            k("label", "pod", stray, "app=other", "--overwrite")
            await pods.until(
                lambda ps: not (pods.get(stray) or {}).get("metadata", {}).get("ownerReferences")
                and sum(1 for p in ps if is_active(p) and p["metadata"]["labels"]["app"] == "legacy") == 3,
                what="released and replaced",
            )
            k("label", "pod", stray, "app=legacy", "--overwrite")
            await pods.until(
                lambda ps: bool((pods.get(stray) or {}).get("metadata", {}).get("ownerReferences"))
                and sum(1 for p in ps if is_active(p)) == 3,
                what="adopted back, one extra removed",
            )
            k("scale", "rc/legacy", "--replicas=1")
            await pods.until(lambda ps: sum(1 for p in ps if is_active(p)) == 1, what="scaled to 1")
        rc = json.loads(k("get", "rc", "legacy", "-o", "json").stdout)
        assert rc["status"]["observedGeneration"] == rc["metadata"]["generation"]
    finally:
        await api.close()
