"""The controller manager: configuration from the environment, and the leader Lease it holds in kyb server."""

from __future__ import annotations

import pytest

from kybernetes.controllers.manager import ControllerConfig
from tests.controllers.support import Watch, client, name_of
from tests.support.cluster import Server


def test_config_from_environment() -> None:
    cfg = ControllerConfig.from_env(
        {"KYB_NODE_MONITOR_GRACE_PERIOD": "5", "KYB_TERMINATED_POD_GC_THRESHOLD": "7", "KYB_LEADER_ELECT": "false", "KYB_POD_GC_PERIOD": "x"}
    )
    assert cfg.node_monitor_grace_period == 5.0 and cfg.terminated_pod_gc_threshold == 7 and cfg.leader_elect is False
    assert cfg.pod_gc_period == 20.0  # unparseable values are ignored
    assert ControllerConfig.from_env({}) == ControllerConfig()


@pytest.mark.e2e
async def test_the_running_manager_holds_and_renews_its_lease(hollow: Server) -> None:
    api = client(hollow)
    try:
        async with Watch(api, "coordination.k8s.io", "v1", "leases", "kube-system") as leases:
            await leases.until(lambda ls: any(name_of(lease) == "kube-controller-manager" for lease in ls), what="the lease")
            lease = leases.get("kube-controller-manager")
            assert lease is not None
            spec = lease["spec"]
            assert spec["holderIdentity"] and spec["leaseDurationSeconds"] == 15
            await leases.until(
                lambda _: (leases.get("kube-controller-manager") or {}).get("spec", {}).get("renewTime") != spec["renewTime"],
                timeout=10,
                what="a renewal (every 2 s)",
            )
            assert leases.get("kube-controller-manager")["spec"]["holderIdentity"] == spec["holderIdentity"]  # type: ignore[index]
    finally:
        await api.close()
