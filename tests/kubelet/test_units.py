"""Pure parts of the kubelet: $(VAR) expansion, quantities, back-off, atomic writes, phase/conditions, podCIDRs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kybernetes.kubelet.agent import pick_pod_cidr
from kybernetes.kubelet.backoff import Backoff
from kybernetes.kubelet.envvars import (
    EnvError,
    command_line,
    expand,
    field_value,
    mapping_for,
    resource_value,
)
from kybernetes.kubelet.quantity import parse_quantity
from kybernetes.kubelet.runtime.api import ContainerState, ContainerStatus
from kybernetes.kubelet.status import ContainerView, PodView, phase, pod_status, same_status
from kybernetes.kubelet.volumes.atomic_writer import FileProjection, write_atomic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)", "a"),
        ("x$(A)y", "xay"),
        ("$$(A)", "$(A)"),
        ("$$$(A)", "$a"),
        ("$$", "$"),
        ("$(MISSING)", "$(MISSING)"),
        ("$(A", "$(A"),
        ("$A", "$A"),
        ("$", "$"),
        ("$(A)$(B)", "ab"),
        ("$()", "$()"),
        ("a$$b", "a$b"),
    ],
)
def test_expansion_matches_upstream(text: str, expected: str) -> None:
    assert expand(text, mapping_for({"A": "a", "B": "b"})) == expected


def test_command_line_expands_command_and_args() -> None:
    c = {"command": ["echo", "$(X)"], "args": ["$$(X)", "$(Y)"]}
    assert command_line(c, [("X", "1")]) == ["echo", "1", "$(X)", "$(Y)"]


def test_downward_fields_and_resources() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "n", "uid": "u", "labels": {"b": "2", "a": 'q"1'}, "annotations": {}},
        "spec": {"nodeName": "node", "containers": [{"name": "c", "resources": {"requests": {"cpu": "250m"}}}]},
        "status": {"podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}], "hostIP": "1.2.3.4"},
    }
    assert field_value(pod, "metadata.labels['b']") == "2"
    assert field_value(pod, "metadata.labels") == 'a="q\\"1"\nb="2"'
    assert field_value(pod, "status.podIPs") == "10.0.0.5"
    with pytest.raises(EnvError):
        field_value(pod, "spec.nope")
    alloc = {"cpu": "4", "memory": "8Gi"}
    assert resource_value(pod, "c", {"resource": "requests.cpu", "divisor": "1m"}, alloc) == "250"
    assert resource_value(pod, "c", {"resource": "requests.cpu"}, alloc) == "1"
    assert resource_value(pod, "c", {"resource": "limits.cpu"}, alloc) == "4"
    assert resource_value(pod, "c", {"resource": "limits.memory", "divisor": "1Gi"}, alloc) == "8"


def test_quantities() -> None:
    assert parse_quantity("100m") * 1000 == 100
    assert parse_quantity("64Mi") == 64 * 2**20
    assert parse_quantity("1.5G") == 1_500_000_000
    assert parse_quantity("2e3") == 2000
    with pytest.raises(ValueError):
        parse_quantity("12XB")


def test_backoff_doubles_caps_and_resets() -> None:
    b = Backoff(base=10, cap=40, reset_after=600)
    t = 1000.0
    assert b.remaining("k", finished_at=t, ran_for=1, now=t) == 0  # first restart: immediately
    b.next("k", ran_for=1, now=t)
    assert b.remaining("k", finished_at=t + 1, ran_for=1, now=t + 1) == 10
    b.next("k", ran_for=1, now=t + 11)
    assert b.current("k") == 20
    b.next("k", ran_for=1, now=t + 40)
    b.next("k", ran_for=1, now=t + 90)
    assert b.current("k") == 40
    assert b.remaining("k", finished_at=t + 100, ran_for=700, now=t + 100) == 0  # ran 10+ minutes: start over
    b.next("k", ran_for=700, now=t + 100)
    assert b.current("k") == 10


def test_atomic_writer_swaps_data_and_prunes(tmp_path: Path) -> None:
    d = tmp_path / "vol"
    assert write_atomic(d, {"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})
    first = os.readlink(d / "..data")
    assert (d / "a").read_text() == "1" and (d / "dir" / "b").read_text() == "2"
    assert os.readlink(d / "a") == "..data/a"
    assert oct((d / "dir" / "b").stat().st_mode & 0o777) == "0o600"
    assert not write_atomic(d, {"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})
    assert write_atomic(d, {"a": FileProjection(b"changed")})
    assert os.readlink(d / "..data") != first and not (d / first).exists()
    assert (d / "a").read_text() == "changed" and not (d / "dir").exists()
    with pytest.raises(ValueError):
        write_atomic(d, {"../escape": FileProjection(b"x")})


def _cs(name: str, attempt: int, state: ContainerState, code: int = 0) -> ContainerStatus:
    return ContainerStatus(id=f"{name}{attempt}", sandbox_id="s", name=name, attempt=attempt, state=state,
                           exit_code=code, started_at=1_700_000_000_000_000_000, finished_at=1_700_000_001_000_000_000)


def _view(pod: dict[str, object], instances: dict[str, list[ContainerStatus]], **views: ContainerView) -> PodView:
    return PodView(pod=pod, instances=instances, views=dict(views), sandbox_ready=True, pod_ip="10.0.0.2",
                   host_ip="1.1.1.1", start_time="2024-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("policy", "states", "expected"),
    [
        ("Always", [ContainerState.RUNNING], "Running"),
        ("Always", [ContainerState.EXITED], "Running"),
        ("Never", [(ContainerState.EXITED, 0)], "Succeeded"),
        ("Never", [(ContainerState.EXITED, 1)], "Failed"),
        ("OnFailure", [(ContainerState.EXITED, 1)], "Running"),
        ("OnFailure", [(ContainerState.EXITED, 0)], "Succeeded"),
        ("Never", [ContainerState.RUNNING, (ContainerState.EXITED, 1)], "Running"),
        ("Always", [None], "Pending"),
    ],
)
def test_phase(policy: str, states: list[object], expected: str) -> None:
    containers = [{"name": f"c{i}"} for i in range(len(states))]
    pod = {"spec": {"restartPolicy": policy, "containers": containers}}
    inst: dict[str, list[ContainerStatus]] = {}
    for i, s in enumerate(states):
        if s is None:
            continue
        st, code = (s, 0) if isinstance(s, ContainerState) else s  # type: ignore[misc]
        inst[f"c{i}"] = [_cs(f"c{i}", 0, st, code)]
    assert phase(_view(pod, inst)) == expected


def test_init_containers_gate_the_pod() -> None:
    pod = {"spec": {"restartPolicy": "Always", "initContainers": [{"name": "i1"}, {"name": "i2"}],
                    "containers": [{"name": "app"}]}}
    pv = _view(pod, {"i1": [_cs("i1", 0, ContainerState.EXITED, 0)], "i2": [_cs("i2", 0, ContainerState.RUNNING)]})
    st = pod_status(pv, None)
    assert st["phase"] == "Pending"
    init = next(c for c in st["conditions"] if c["type"] == "Initialized")
    assert init["status"] == "False" and init["message"] == "containers with incomplete status: [i2]"
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert st["initContainerStatuses"][0]["ready"] is True


def test_status_shapes_and_stable_transitions() -> None:
    pod = {"spec": {"restartPolicy": "Always", "containers": [{"name": "app", "image": "img"}]}}
    prev = _cs("app", 0, ContainerState.EXITED, 2)
    cur = _cs("app", 1, ContainerState.EXITED, 3)
    view = ContainerView(waiting_reason="CrashLoopBackOff", waiting_message="back-off 10s")
    st = pod_status(_view(pod, {"app": [prev, cur]}, app=view), None)
    cs = st["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}
    assert cs["lastState"]["terminated"]["exitCode"] == 3 and cs["restartCount"] == 1
    assert cs["containerID"] == "process://app1" and cs["ready"] is False
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    again = pod_status(_view(pod, {"app": [prev, cur]}, app=view), st)
    assert same_status(again, st)
    assert [c["lastTransitionTime"] for c in again["conditions"]] == [c["lastTransitionTime"] for c in st["conditions"]]


def test_pod_cidr_picks_the_first_free_subnet() -> None:
    assert pick_pod_cidr("10.42.0.0/16", set()) == "10.42.0.0/24"
    assert pick_pod_cidr("10.42.0.0/16", {"10.42.0.0/24", "10.42.2.0/24"}) == "10.42.1.0/24"
    assert pick_pod_cidr("10.99.3.0/24", set()) == "10.99.3.0/24"
