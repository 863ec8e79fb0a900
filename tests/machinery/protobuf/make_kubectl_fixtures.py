"""Regenerate data/kubectl_bodies.json: what real kubectl sends for its generator commands.

For each command, the protobuf body of kubectl 1.33 (base64) and the JSON body of
kubectl 1.31 (the last one sending JSON for them).  Run from this folder:
``python make_kubectl_fixtures.py`` (needs kubectl.1.33 and kubectl.1.31 installed).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from protobuf_fake_apiserver import FakeServer, kubectl_binary, run_kubectl

COMMANDS = [
    ["create", "namespace", "ns1"],
    ["create", "configmap", "cm1", "--from-literal=a=b", "--from-literal=c="],
    ["create", "secret", "generic", "s1", "--from-literal=pw=hunter2", "--from-literal=bin=\x01\x02"],
    ["create", "secret", "tls", "tls1", "--cert=CERT", "--key=KEY"],
    ["create", "deployment", "web", "--image=nginx", "--replicas=0", "--port=80"],
    ["create", "deployment", "web2", "--image=nginx", "--image=redis"],
    ["create", "service", "clusterip", "svc1", "--tcp=80:8080"],
    ["create", "service", "clusterip", "headless", "--clusterip=None"],
    ["create", "service", "nodeport", "svc2", "--tcp=80:http", "--node-port=30080"],
    ["create", "service", "externalname", "ext", "--external-name=example.com"],
    ["create", "job", "j1", "--image=busybox", "--", "echo", "hi"],
    ["create", "cronjob", "cj1", "--image=busybox", "--schedule=*/1 * * * *", "--restart=Never"],
    ["create", "job", "j2", "--from=cronjob/cj1"],
    ["create", "serviceaccount", "sa1"],
    ["create", "role", "r1", "--verb=get,list", "--resource=pods,deployments.apps", "--resource-name=x"],
    ["create", "rolebinding", "rb1", "--role=r1", "--serviceaccount=default:sa1", "--group=devs"],
    ["create", "clusterrole", "cr1", "--verb=get", "--non-resource-url=/logs"],
    ["create", "clusterrole", "agg", "--aggregation-rule=a=b"],
    ["create", "clusterrolebinding", "crb1", "--clusterrole=cr1", "--user=bob"],
    ["create", "quota", "q1", "--hard=cpu=1,memory=1G,pods=2", "--scopes=BestEffort"],
    ["create", "pdb", "pdb1", "--selector=app=web", "--min-available=0"],
    ["create", "pdb", "pdb2", "--selector=app=web", "--max-unavailable=25%"],
    ["create", "priorityclass", "pc1", "--value=0", "--description=x"],
    ["create", "priorityclass", "pc2", "--value=1000", "--global-default", "--preemption-policy=Never"],
    [
        "create",
        "ingress",
        "ing1",
        "--rule=foo.com/bar*=svc1:80,tls=sec",
        "--class=nginx",
        "--annotation=a=b",
        "--default-backend=defsvc:http",
    ],
    ["autoscale", "deployment", "web", "--max=5", "--min=2", "--cpu-percent=50"],
    ["auth", "can-i", "get", "pods", "--subresource=log", "-n", "kube-system"],
    ["auth", "can-i", "get", "/logs"],
    ["auth", "can-i", "--list"],
    ["auth", "whoami"],
    [
        "create",
        "token",
        "sa1",
        "--duration=1h",
        "--audience=a,b",
        "--bound-object-kind=Pod",
        "--bound-object-name=p",
        "--bound-object-uid=u1",
    ],
]


async def capture(version: str, tmp: str) -> dict[str, list[tuple[str, bytes]]]:
    srv = FakeServer()
    await srv.start()
    binary = kubectl_binary(version)
    assert binary, f"kubectl.{version} is not installed"
    # a pod for the bound token
    srv.objects["/api/v1/namespaces/default/pods/p"] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "uid": "u1"},
    }
    out: dict[str, list[tuple[str, bytes]]] = {}
    try:
        for cmd in COMMANDS:
            cmd = [a.replace("CERT", f"{tmp}/tls.crt").replace("KEY", f"{tmp}/tls.key") for a in cmd]
            n = len(srv.requests)
            p = await run_kubectl(binary, srv.port, *cmd)
            if p.returncode:
                print(version, cmd, p.stderr, file=sys.stderr)
            out[" ".join(cmd)] = [
                (r.content_type, r.body) for r in srv.requests[n:] if r.method in ("POST", "PUT")
            ]
    finally:
        await srv.stop()
    return out


def make_tls(tmp: str) -> None:
    import subprocess

    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=x",
            "-days",
            "1",
            "-keyout",
            f"{tmp}/tls.key",
            "-out",
            f"{tmp}/tls.crt",
        ],
        check=True,
        capture_output=True,
    )


async def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        make_tls(tmp)
        pb = await capture("1.33", tmp)
        js = await capture("1.31", tmp)
    fixtures = []
    for cmd, bodies in pb.items():
        pbs = [b for ct, b in bodies if ct.startswith("application/vnd.kubernetes.protobuf")]
        jss = [b for ct, b in js.get(cmd, []) if ct.startswith("application/json")]
        if len(pbs) != 1 or len(jss) != 1:
            print("skipping", cmd, [ct for ct, _ in bodies], file=sys.stderr)
            continue
        fixtures.append(
            {
                "command": "kubectl " + cmd.replace(tmp, "$TMP"),
                "protobuf": base64.b64encode(pbs[0]).decode(),
                "json": json.loads(jss[0]),
            }
        )
    write_fixtures(fixtures)


def write_fixtures(fixtures: list[dict[str, object]]) -> None:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "kubectl_bodies.json")
    with open(path, "w") as fh:
        json.dump(fixtures, fh, indent=1, sort_keys=False)
        fh.write("\n")
    print(f"wrote {len(fixtures)} fixtures to {path}")


if __name__ == "__main__":
    asyncio.run(main())
