"""One shared kyb server with hollow nodes for the controller e2e tests (each test uses its own namespace)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.controllers.support import hollow_server, new_namespace
from tests.support.cluster import Server

HOLLOW_NODES = 4
ENV = {
    "KYB_HOLLOW_RUNNING_DELAY": "0.3",  # pods stay Pending a moment, so rollouts really wait for readiness
    "KYB_HOLLOW_JOB_DURATION": "0.3",
    "KYB_JOB_BACKOFF_BASE": "0.2",
}


@pytest.fixture(scope="session")
def hollow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("kyb-hollow")
    with hollow_server(tmp, HOLLOW_NODES, ENV) as srv:
        try:
            yield srv
        finally:
            (tmp / "server.log").write_text("".join(srv.output))


@pytest.fixture
def ns(hollow: Server) -> Iterator[str]:
    name = new_namespace(hollow)
    yield name
    hollow.kubectl("delete", "namespace", name, "--wait=false", check=False)
