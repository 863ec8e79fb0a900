"""The same controllers on the etcd backend: a Deployment rolls and is collected by foreground deletion."""

from __future__ import annotations

import contextlib
import os
import textwrap
from collections.abc import Iterator
from unittest import mock

import pytest

from tests.controllers.conftest import ENV
from tests.controllers.support import QUIET, Watch, client, is_ready, new_namespace
from tests.support.cluster import Server, running_server
from tests.support.etcd import EtcdServer

pytestmark = [pytest.mark.e2e, pytest.mark.etcd]

DEPLOYMENT = textwrap.dedent(
    """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      replicas: 4
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: c, image: "web:1"}]}
    """
)


@pytest.fixture(scope="module")
def on_etcd(tmp_path_factory: pytest.TempPathFactory, etcd_server: EtcdServer) -> Iterator[Server]:
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, ENV))
        srv = stack.enter_context(
            running_server(tmp_path_factory.mktemp("kyb-etcd-ctrl"), "etcd", etcd_server.endpoints, ["--hollow-nodes", "3", *QUIET])
        )
        yield srv


async def test_rollout_and_foreground_deletion_on_etcd(on_etcd: Server) -> None:
    ns = new_namespace(on_etcd)
    k = lambda *a, **kw: on_etcd.kubectl("-n", ns, *a, **kw)  # noqa: E731
    k("apply", "-f", "-", input=DEPLOYMENT)
    k("rollout", "status", "deploy/web", "--timeout=60s")
    k("set", "image", "deploy/web", "c=web:2")
    assert "successfully rolled out" in k("rollout", "status", "deploy/web", "--timeout=60s").stdout
    api = client(on_etcd)
    try:
        async with Watch(api, "", "v1", "pods", ns) as pods:
            await pods.until(lambda ps: [p["spec"]["containers"][0]["image"] for p in ps if is_ready(p)] == ["web:2"] * 4 and len(ps) == 4)
            k("delete", "deploy", "web", "--cascade=foreground")
            await pods.until(lambda ps: not ps, what="pods collected")
        assert k("get", "rs", "-o", "name").stdout.strip() == ""
    finally:
        await api.close()
