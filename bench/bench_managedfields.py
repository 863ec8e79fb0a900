"""managedFields micro-benchmark: the field-manager work of one API write, against a JSON round trip.

Every write through the API server calls ``update_managed_fields`` (creates, updates, patches) and
``application/apply-patch+yaml`` calls ``apply``.  Each case below times that call alone, in CPU time,
in batches alternating with ``orjson.loads(orjson.dumps(obj))`` of the object written (the cheapest
thing a write does to an object at all), so the ratio is comparable across machines and runs.  Each
case runs twice: with ``kybernetes.machinery.patch`` (*new*) and, when the tests are there, with
``tests/machinery/patch/smd_reference``, the engines as first written (*before*; the equivalence
tests hold the new engines to it), after checking that both give the same result.

Cases:

- ``create ConfigMap``: ``update_managed_fields(None, cm, ...)`` of a small ConfigMap (two data keys).
- ``create Deployment``: the same for a Deployment with three containers.
- ``update Pod``: a 5 KB Pod (9 KB with its managedFields: spec and status, managed by its creator
  and the kubelet's status writer) updated by a third manager that changes one container image.
- ``update Pod, same manager``: the creator changes one label.
- ``re-apply Deployment``: server-side apply of the same configuration again (a no-op apply) to a
  Deployment as stored: defaulted, with the controller's status.
- ``apply Deployment, 1 change``: the same with one image changed.

Run: ``python -m bench.bench_managedfields`` (``--quick`` for a short run, ``--no-write`` to leave
bench/RESULTS.md alone).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.results import machine_line, update_section
from kybernetes.machinery.patch import apply, builtin_root, update_managed_fields

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def configmap() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "bench-000001",
            "namespace": "default",
            "uid": "6c1d3c5e-2f0e-4d8e-9d55-0c6b7a2f1e11",
            "creationTimestamp": "2025-01-02T03:04:05Z",
        },
        "data": {"key": "value", "other": "x"},
    }


def container(i: int) -> dict[str, Any]:
    return {
        "name": f"app-{i}",
        "image": f"registry.example.com/team/app-{i}:1.2.{i}",
        "imagePullPolicy": "IfNotPresent",
        "args": ["--port", str(8080 + i), "--verbose"],
        "ports": [{"name": "http", "containerPort": 8080 + i, "protocol": "TCP"}],
        "env": [
            {"name": "MODE", "value": "production"},
            {"name": "REPLICA", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        ],
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}],
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": 8080 + i, "scheme": "HTTP"},
            "periodSeconds": 10,
            "timeoutSeconds": 1,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def deployment_config() -> dict[str, Any]:
    labels = {"app": "web", "tier": "frontend"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": dict(labels)},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [container(i) for i in range(3)],
                    "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
                },
            },
        },
    }


def deployment() -> dict[str, Any]:
    obj = deployment_config()
    obj["metadata"].update(uid="0b7d1c2e-5a4f-4e3b-8c2d-1f0e9d8c7b6a", creationTimestamp="2025-01-02T03:04:05Z")
    return obj


def pod() -> dict[str, Any]:
    spec = deployment_config()["spec"]["template"]["spec"]
    spec.update(
        restartPolicy="Always",
        terminationGracePeriodSeconds=30,
        dnsPolicy="ClusterFirst",
        serviceAccountName="default",
        nodeName="node-17",
        schedulerName="default-scheduler",
        tolerations=[
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ],
    )
    status = {
        "phase": "Running",
        "hostIP": "10.0.0.17",
        "podIP": "10.244.3.9",
        "podIPs": [{"ip": "10.244.3.9"}],
        "startTime": "2025-01-02T03:04:06Z",
        "qosClass": "Burstable",
        "conditions": [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": "2025-01-02T03:04:09Z"}
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "containerStatuses": [
            {
                "name": f"app-{i}",
                "image": f"registry.example.com/team/app-{i}:1.2.{i}",
                "imageID": f"registry.example.com/team/app-{i}@sha256:{i:064d}",
                "containerID": f"containerd://{i:064x}",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": "2025-01-02T03:04:08Z"}},
                "lastState": {},
            }
            for i in range(3)
        ],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-5d8f7c9b4-x2x7q",
            "namespace": "default",
            "uid": "2a9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c",
            "resourceVersion": "12345",
            "creationTimestamp": "2025-01-02T03:04:05Z",
            "labels": {"app": "web", "tier": "frontend", "pod-template-hash": "5d8f7c9b4"},
            "annotations": {"example.com/revision": "7"},
            "generateName": "web-5d8f7c9b4-",
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-5d8f7c9b4",
                    "uid": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
        "status": status,
    }


def live_deployment(config: dict[str, Any]) -> dict[str, Any]:
    """A Deployment as stored after ``kubectl apply --server-side``: applied, defaulted (defaults are
    nobody's), then its status written by the deployment controller."""
    node = builtin_root("apps/v1", "Deployment")
    obj = apply(None, config, "kubectl", False, node, now=NOW)
    meta = obj["metadata"]
    meta.update(uid="0b7d1c2e-5a4f-4e3b-8c2d-1f0e9d8c7b6a", resourceVersion="4711", generation=1)
    meta["creationTimestamp"] = "2025-01-02T03:04:05Z"
    spec = obj["spec"]
    spec.update(revisionHistoryLimit=10, progressDeadlineSeconds=600)
    spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    pod_spec = spec["template"]["spec"]
    pod_spec.update(
        restartPolicy="Always",
        terminationGracePeriodSeconds=30,
        dnsPolicy="ClusterFirst",
        securityContext={},
        schedulerName="default-scheduler",
    )
    for c in pod_spec["containers"]:
        c["readinessProbe"]["httpGet"]["scheme"] = "HTTP"
    pod_spec["volumes"][0]["configMap"]["defaultMode"] = 420
    with_status = copy.deepcopy(obj)
    with_status["status"] = {
        "observedGeneration": 1,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "conditions": [
            {
                "type": t,
                "status": "True",
                "lastUpdateTime": "2025-01-02T03:04:09Z",
                "lastTransitionTime": "2025-01-02T03:04:09Z",
                "reason": r,
                "message": "ok",
            }
            for t, r in (("Available", "MinimumReplicasAvailable"), ("Progressing", "NewReplicaSetAvailable"))
        ],
    }
    return update_managed_fields(obj, with_status, "kube-controller-manager", subresource="status", now=NOW)


def live_pod() -> dict[str, Any]:
    """A Pod as stored: created by the ReplicaSet controller, status written by the kubelet."""
    obj = pod()
    status = obj.pop("status")
    created = update_managed_fields(None, obj, "kube-controller-manager", now=NOW)
    with_status = copy.deepcopy(created)
    with_status["status"] = status
    return update_managed_fields(created, with_status, "kubelet", subresource="status", now=NOW)


class Engine:
    """The two entry points timed: the package's, or the frozen reference copy's."""

    def __init__(self, update: Callable[..., Any], apply_: Callable[..., Any]) -> None:
        self.update = update
        self.apply = apply_


def engines() -> dict[str, Engine]:
    """``new``: kybernetes.machinery.patch; ``before``: tests/machinery/patch/smd_reference, the engines
    as first written (kept by the tests as the oracle the fast paths must match), when present."""
    out = {"new": Engine(update_managed_fields, apply)}
    reference = Path(__file__).resolve().parent.parent / "tests" / "machinery" / "patch"
    if (reference / "smd_reference" / "apply.py").exists():
        sys.path.insert(0, str(reference))
        ref = importlib.import_module("smd_reference.apply")
        out["before"] = Engine(ref.update_managed_fields, ref.apply)
    return out


def case_create(engine: Engine, obj: dict[str, Any]) -> Callable[[], object]:
    node = builtin_root(obj["apiVersion"], obj["kind"])

    def run() -> object:
        return engine.update(None, obj, "kubectl-create", node=node)

    return run


def case_update(engine: Engine, old: dict[str, Any], new: dict[str, Any], manager: str) -> Callable[[], object]:
    node = builtin_root(old["apiVersion"], old["kind"])

    def run() -> object:
        return engine.update(old, new, manager, node=node)

    return run


def case_apply(engine: Engine, live: dict[str, Any], config: dict[str, Any]) -> Callable[[], object]:
    node = builtin_root(config["apiVersion"], config["kind"])

    def run() -> object:
        return engine.apply(live, config, "kubectl", False, node)

    return run


def baseline(obj: dict[str, Any]) -> Callable[[], object]:
    def run() -> object:
        return orjson.loads(orjson.dumps(obj))

    return run


def batch_size(fn: Callable[[], object]) -> int:
    """Calls per timed batch: enough for about 10 ms."""
    fn()
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - start >= 0.01:
            return n
        n *= 2


def timed(fn: Callable[[], object], n: int) -> float:
    """CPU seconds per call over one batch (CPU time: time spent preempted by other work is not counted)."""
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n


def per_call(fn: Callable[[], object], base: Callable[[], object], seconds: float) -> tuple[float, float]:
    """Seconds per call of ``fn`` and of ``base``, timed in alternating batches.

    The minimum over the batches: on a shared machine the fastest batch is the one least disturbed
    by other work (caches, frequency), and alternating keeps both measurements under the same
    conditions.
    """
    n, m = batch_size(fn), batch_size(base)
    fn_times, base_times = [], []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(fn_times) < 5:
        fn_times.append(timed(fn, n))
        base_times.append(timed(base, m))
    return min(fn_times), min(base_times)


def untimed(obj: Any) -> bytes:
    """The JSON of a result without managedFields times (the clock may tick between two calls)."""
    out = copy.deepcopy(obj)
    for entry in out.get("metadata", {}).get("managedFields") or ():
        entry.pop("time", None)
    return orjson.dumps(out)


Case = tuple[str, Callable[[Engine], Callable[[], object]], dict[str, Any]]


def cases() -> list[Case]:
    """(name, engine -> timed call, the object written); the inputs are built once, by the package."""
    pod_live = live_pod()
    pod_new = copy.deepcopy(pod_live)
    pod_new["spec"]["containers"][1]["image"] = "registry.example.com/team/app-1:1.3.0"
    pod_relabel = copy.deepcopy(pod_live)
    pod_relabel["metadata"]["labels"]["tier"] = "backend"
    config = deployment_config()
    deploy_live = live_deployment(config)
    changed = copy.deepcopy(config)
    changed["spec"]["template"]["spec"]["containers"][2]["image"] = "registry.example.com/team/app-2:2.0.0"
    cm, dep = configmap(), deployment()
    return [
        ("create ConfigMap", lambda e: case_create(e, cm), cm),
        ("create Deployment (3 containers)", lambda e: case_create(e, dep), dep),
        ("update Pod (other manager, 1 image)", lambda e: case_update(e, pod_live, pod_new, "kubectl-edit"), pod_new),
        (
            "update Pod (same manager, 1 label)",
            lambda e: case_update(e, pod_live, pod_relabel, "kube-controller-manager"),
            pod_relabel,
        ),
        ("re-apply Deployment (no change)", lambda e: case_apply(e, deploy_live, config), deploy_live),
        ("apply Deployment (1 image changed)", lambda e: case_apply(e, deploy_live, changed), deploy_live),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="about 0.5 s per measurement instead of 3 s")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = ap.parse_args()
    seconds = 0.5 if args.quick else 3.0
    available = engines()
    rows = []
    for name, make, obj in cases():
        size = len(orjson.dumps(obj))
        results = {}
        for label, engine in available.items():
            fn = make(engine)
            if label != "new":
                assert untimed(fn()) == untimed(make(available["new"])()), name
            results[label] = per_call(fn, baseline(obj), seconds)
        rows.append((name, size, results))
        new_t, new_b = results["new"]
        line = f"{name:38s} {size:5d} B  new {new_t * 1e6:7.1f} us ({new_t / new_b:5.1f}x baseline)"
        if "before" in results:
            old_t, old_b = results["before"]
            line += f"  before {old_t * 1e6:7.1f} us ({old_t / old_b:5.1f}x)  speed-up {old_t / old_b / (new_t / new_b):4.1f}x"
        print(line, flush=True)
    lines = [
        "## managedFields (`python -m bench.bench_managedfields`)",
        "",
        machine_line(),
        "",
        "`update_managed_fields` / `apply` per call.  *new* is `kybernetes.machinery.patch`, *before* the "
        "engines as first written (the frozen copy `tests/machinery/patch/smd_reference`, which the "
        "equivalence tests hold the new engines to).  Each is timed in batches alternating with the "
        "baseline `orjson.loads(orjson.dumps(obj))` of the written object (fastest batch of each), so "
        "ratios are to a baseline measured under the same conditions; speed-up is before ratio / new ratio.",
        "",
        "| case | object bytes | new µs | new / baseline | before µs | before / baseline | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, size, results in rows:
        new_t, new_b = results["new"]
        old_t, old_b = results.get("before", (float("nan"), float("nan")))
        lines.append(
            f"| {name} | {size} | {new_t * 1e6:.1f} | {new_t / new_b:.1f}x | {old_t * 1e6:.1f} | "
            f"{old_t / old_b:.1f}x | {old_t / old_b / (new_t / new_b):.1f}x |"
        )
    text = "\n".join(lines) + "\n"
    if not args.no_write:
        update_section("bench_managedfields", text)


if __name__ == "__main__":
    main()
