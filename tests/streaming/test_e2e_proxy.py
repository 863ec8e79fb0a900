"""The proxy subresources: nodes/{n}/proxy (to the kubelet), pods/{p}:{port}/proxy and services/{s}:{port}/proxy,
with `kubectl get --raw` and through `kubectl proxy`."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from tests.streaming.conftest import StreamEnv, popen_kubectl
from tests.support.cluster import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def web(stream_env: StreamEnv) -> int:
    port = free_port()
    serve = f"echo hello via proxy > index.html; exec python3 -m http.server {port} --bind 127.0.0.1"
    stream_env.run_pod("site", [{"name": "web", "command": ["sh", "-c", serve],
                                 "ports": [{"name": "http", "containerPort": port}]}], labels={"app": "site"})
    deadline = time.time() + 15
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            return port
        except OSError:
            assert time.time() < deadline
            time.sleep(0.1)


def test_node_proxy_reaches_the_kubelet(stream_env: StreamEnv) -> None:
    raw = stream_env.server.kubectl
    assert raw("get", "--raw", f"/api/v1/nodes/{stream_env.node}/proxy/healthz").stdout == "ok"
    pods = json.loads(raw("get", "--raw", f"/api/v1/nodes/{stream_env.node}/proxy/pods").stdout)
    assert pods["kind"] == "PodList"
    assert "node" in json.loads(raw("get", "--raw", f"/api/v1/nodes/{stream_env.node}/proxy/stats/summary").stdout)
    res = raw("get", "--raw", "/api/v1/nodes/no-such-node/proxy/healthz", check=False)
    assert res.returncode != 0 and "not found" in res.stderr


def test_pod_and_service_proxy(stream_env: StreamEnv, web: int) -> None:
    raw = stream_env.server.kubectl
    assert raw("get", "--raw", f"/api/v1/namespaces/default/pods/site:{web}/proxy/index.html").stdout == \
        "hello via proxy\n"
    assert raw("get", "--raw", "/api/v1/namespaces/default/pods/site/proxy/index.html").stdout == "hello via proxy\n"
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "site"},
           "spec": {"selector": {"app": "site"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    stream_env.server.kubectl("create", "-f", "-", input=json.dumps(svc))
    deadline = time.time() + 20
    while True:  # until the EndpointSlice controller has published the pod
        res = raw("get", "--raw", "/api/v1/namespaces/default/services/site:http/proxy/index.html", check=False)
        if res.returncode == 0:
            break
        assert "no endpoints available" in res.stderr and time.time() < deadline, res.stderr
        time.sleep(0.2)
    assert res.stdout == "hello via proxy\n"
    # By port number too; "/" serves index.html.
    assert raw("get", "--raw", "/api/v1/namespaces/default/services/site:80/proxy/").stdout == "hello via proxy\n"

    # The same through `kubectl proxy`, as a browser would use it.
    port = free_port()
    proc = popen_kubectl(stream_env, "proxy", f"--port={port}")
    try:
        assert proc.stdout is not None and "Starting to serve" in proc.stdout.readline()
        url = f"http://127.0.0.1:{port}/api/v1/namespaces/default/services/site:http/proxy/index.html"
        assert urllib.request.urlopen(url, timeout=10).read() == b"hello via proxy\n"
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url.replace("index.html", "missing.html"), timeout=10)
        assert e.value.code == 404
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_proxy_errors(stream_env: StreamEnv) -> None:
    res = stream_env.server.kubectl("get", "--raw", "/api/v1/namespaces/default/services/nothing/proxy/", check=False)
    assert res.returncode != 0 and "not found" in res.stderr
