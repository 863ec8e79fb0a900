"""Restarts, kill -9, compaction and several servers on one etcd: what storage promises, seen through the API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.support.cluster import Server, running_server
from tests.support.etcd import EtcdServer

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def backend(request: pytest.FixtureRequest) -> tuple[str, list[str]]:
    if request.param == "etcd":
        etcd: EtcdServer = request.getfixturevalue("etcd_server")
        return "etcd", etcd.endpoints
    return "sqlite", []


def _core(srv: Server) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=str(srv.kubeconfig)))


def _cm(name: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"v": name})


def test_restart_keeps_objects_and_resumes_watch(tmp_path: Path, backend: tuple[str, list[str]]) -> None:
    kind, endpoints = backend
    with running_server(tmp_path / "srv", kind, endpoints) as srv:
        core = _core(srv)
        rv0 = core.list_namespaced_config_map("default").metadata.resource_version
        a = core.create_namespaced_config_map("default", _cm("a"))
        b = core.create_namespaced_config_map("default", _cm("b"))
        srv.restart()
        core = _core(srv)
        again = {o.metadata.name: o.metadata.resource_version for o in core.list_namespaced_config_map("default").items}
        assert again["a"] == a.metadata.resource_version and again["b"] == b.metadata.resource_version
        c = core.create_namespaced_config_map("default", _cm("c"))
        assert int(c.metadata.resource_version) > int(b.metadata.resource_version)
        seen: list[tuple[str, str]] = []
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, "default", resource_version=rv0, timeout_seconds=10):
            seen.append((ev["type"], ev["object"].metadata.name))
            if len(seen) == 3:
                w.stop()
        assert seen == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]


def test_kill_9_during_create_burst_loses_no_acknowledged_create(tmp_path: Path) -> None:
    with running_server(tmp_path / "srv", "sqlite") as srv:
        core = _core(srv)
        acked: list[str] = []
        stop = threading.Event()
        errors: list[Exception] = []

        def burst(worker: int) -> None:
            i = 0
            while not stop.is_set():
                name = f"k{worker}-{i}"
                try:
                    core.create_namespaced_config_map("default", _cm(name), _request_timeout=5)
                except Exception as e:
                    errors.append(e)
                    return
                acked.append(name)
                i += 1

        threads = [threading.Thread(target=burst, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 200 and time.monotonic() < deadline:
            time.sleep(0.01)  # poll interval while waiting for the burst to make progress
        srv.kill9()
        stop.set()
        for t in threads:
            t.join(10)
        assert len(acked) >= 200
        srv.start()
        core = _core(srv)
        present = {o.metadata.name for o in core.list_namespaced_config_map("default").items}
        missing = [n for n in acked if n not in present]
        assert not missing, f"{len(missing)} acknowledged creates lost, e.g. {missing[:5]}"


def test_compacted_resource_version_gets_410(tmp_path: Path, backend: tuple[str, list[str]]) -> None:
    kind, endpoints = backend
    with running_server(tmp_path / "srv", kind, endpoints, ["--compaction-interval", "0.2"]) as srv:
        core = _core(srv)
        first = core.create_namespaced_config_map("default", _cm("old"))
        old_rv = first.metadata.resource_version
        for i in range(5):
            core.patch_namespaced_config_map("old", "default", {"data": {"i": str(i)}})
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            core.patch_namespaced_config_map("old", "default", {"data": {"tick": str(time.monotonic())}})
            try:
                for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=old_rv,
                                              timeout_seconds=1, _request_timeout=5):
                    pass
            except ApiException as e:
                status = e.status
                break
            time.sleep(0.2)  # let the next compaction tick pass before asking again (bounded by the deadline)
        assert status == 410


def test_two_servers_share_one_etcd(tmp_path: Path, etcd_server: EtcdServer) -> None:
    with running_server(tmp_path / "one", "etcd", etcd_server.endpoints) as one:
        two = Server(data_dir=tmp_path / "two", storage="etcd", etcd_endpoints=etcd_server.endpoints,
                     etcd_prefix=one.etcd_prefix, extra_args=["--disable-agent", "--disable-controllers"])
        two.start()
        try:
            c1, c2 = _core(one), _core(two)
            rv = c2.list_namespaced_config_map("default").metadata.resource_version
            c1.create_namespaced_config_map("default", _cm("from-one"))
            got = c2.read_namespaced_config_map("from-one", "default")
            assert got.data == {"v": "from-one"}
            w = watch.Watch()
            for ev in w.stream(c2.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=10):
                assert (ev["type"], ev["object"].metadata.name) == ("ADDED", "from-one")
                w.stop()
            c2.create_namespaced_config_map("default", _cm("from-two"))
            assert c1.read_namespaced_config_map("from-two", "default").data == {"v": "from-two"}
        finally:
            two.cleanup()


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    yield
