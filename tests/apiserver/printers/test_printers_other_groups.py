"""networking, discovery, rbac, storage and the remaining groups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kybernetes.apiserver.printers import table_for

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ts(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "creationTimestamp": ts(days=3), **extra}


def cells(group: str, resource: str, obj: dict[str, Any]) -> list[Any]:
    cells_: list[Any] = table_for(group, resource, [obj], now=NOW)["rows"][0]["cells"]
    return cells_


def columns(group: str, resource: str) -> list[tuple[str, str, int]]:
    return [
        (c["name"], c["type"], c["priority"]) for c in table_for(group, resource, [])["columnDefinitions"]
    ]


NET = "networking.k8s.io"

# ---------------------------------------------------------------------------------------------
# networking / discovery
# ---------------------------------------------------------------------------------------------


def test_ingress() -> None:
    assert columns(NET, "ingresses") == [
        ("Name", "string", 0),
        ("Class", "string", 0),
        ("Hosts", "string", 0),
        ("Address", "string", 0),
        ("Ports", "string", 0),
        ("Age", "string", 0),
    ]
    ing = {
        "metadata": meta("web"),
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}],
            "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.20"}, {"hostname": "lb.example.com"}]}},
    }
    assert cells(NET, "ingresses", ing) == [
        "web",
        "nginx",
        "a.example.com,b.example.com",
        "192.0.2.20,lb.example.com",
        "80, 443",
        "3d",
    ]
    bare = {"metadata": meta("default-backend"), "spec": {"defaultBackend": {"service": {"name": "x"}}}}
    assert cells(NET, "ingresses", bare) == ["default-backend", "<none>", "*", "", "80", "3d"]
    many = {
        "metadata": meta("m"),
        "spec": {"rules": [{"host": f"h{i}.example.com"} for i in range(5)] + [{}]},
    }
    assert cells(NET, "ingresses", many)[2] == "h0.example.com,h1.example.com,h2.example.com + 3 more..."
    wildcard_rule = {"metadata": meta("w"), "spec": {"rules": [{"http": {}}]}}
    assert cells(NET, "ingresses", wildcard_rule)[2] == "*"


def test_ingress_class() -> None:
    assert columns(NET, "ingressclasses") == [
        ("Name", "string", 0),
        ("Controller", "string", 0),
        ("Parameters", "string", 0),
        ("Age", "string", 0),
    ]
    ic = {
        "metadata": meta("nginx"),
        "spec": {
            "controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"},
        },
    }
    assert cells(NET, "ingressclasses", ic) == [
        "nginx",
        "k8s.io/ingress-nginx",
        "IngressParameters.k8s.example.com/external-lb",
        "3d",
    ]
    core_params = {
        "metadata": meta("c"),
        "spec": {"controller": "x", "parameters": {"kind": "ConfigMap", "name": "cfg"}},
    }
    assert cells(NET, "ingressclasses", core_params)[2] == "ConfigMap/cfg"
    assert cells(NET, "ingressclasses", {"metadata": meta("n"), "spec": {"controller": "x"}})[2] == "<none>"


def test_network_policy() -> None:
    assert columns(NET, "networkpolicies") == [
        ("Name", "string", 0),
        ("Pod-Selector", "string", 0),
        ("Age", "string", 0),
    ]
    np = {"metadata": meta("deny-all"), "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    assert cells(NET, "networkpolicies", np) == ["deny-all", "<none>", "3d"]
    sel = {"metadata": meta("db"), "spec": {"podSelector": {"matchLabels": {"role": "db"}}}}
    assert cells(NET, "networkpolicies", sel)[1] == "role=db"


def test_service_cidr_and_ip_address() -> None:
    assert columns(NET, "servicecidrs") == [
        ("Name", "string", 0),
        ("CIDRs", "string", 0),
        ("Age", "string", 0),
    ]
    sc = {"metadata": meta("kubernetes"), "spec": {"cidrs": ["10.96.0.0/12", "fd00:10:96::/112"]}}
    assert cells(NET, "servicecidrs", sc) == ["kubernetes", "10.96.0.0/12,fd00:10:96::/112", "3d"]
    # upstream declares two columns and fills three cells; kubectl ignores the extra one
    assert columns(NET, "ipaddresses") == [("Name", "string", 0), ("ParentRef", "string", 0)]
    ip = {
        "metadata": meta("10.96.0.1"),
        "spec": {
            "parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "kubernetes"}
        },
    }
    assert cells(NET, "ipaddresses", ip) == ["10.96.0.1", "services/default/kubernetes", "3d"]
    gw = {
        "metadata": meta("192.0.2.1"),
        "spec": {"parentRef": {"group": "Gateway.Networking.k8s.io", "resource": "Gateways", "name": "gw"}},
    }
    assert cells(NET, "ipaddresses", gw)[1] == "gateways.gateway.networking.k8s.io/gw"
    assert cells(NET, "ipaddresses", {"metadata": meta("x")})[1] == "<none>"


def test_endpoint_slice() -> None:
    assert columns("discovery.k8s.io", "endpointslices") == [
        ("Name", "string", 0),
        ("AddressType", "string", 0),
        ("Ports", "string", 0),
        ("Endpoints", "string", 0),
        ("Age", "string", 0),
    ]
    es = {
        "metadata": meta("kube-dns-abc12"),
        "addressType": "IPv4",
        "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53},
            {"name": "metrics"},
            {},
        ],
        "endpoints": [
            {"addresses": ["10.244.0.2"], "conditions": {"ready": True}},
            {"addresses": ["10.244.0.3", "10.244.0.4"]},
            {"addresses": ["10.244.0.5"]},
        ],
    }
    assert cells("discovery.k8s.io", "endpointslices", es) == [
        "kube-dns-abc12",
        "IPv4",
        "53,53,metrics + 1 more...",
        "10.244.0.2,10.244.0.3,10.244.0.4 + 1 more...",
        "3d",
    ]
    empty = {"metadata": meta("e"), "addressType": "IPv6"}
    assert cells("discovery.k8s.io", "endpointslices", empty) == ["e", "IPv6", "<unset>", "<unset>", "3d"]


# ---------------------------------------------------------------------------------------------
# rbac
# ---------------------------------------------------------------------------------------------

RBAC = "rbac.authorization.k8s.io"


def test_bindings() -> None:
    expected_columns = [
        ("Name", "string", 0),
        ("Role", "string", 0),
        ("Age", "string", 0),
        ("Users", "string", 1),
        ("Groups", "string", 1),
        ("ServiceAccounts", "string", 1),
    ]
    assert columns(RBAC, "rolebindings") == expected_columns
    assert columns(RBAC, "clusterrolebindings") == expected_columns
    assert (
        table_for(RBAC, "clusterrolebindings", [])["columnDefinitions"][3]["description"]
        == "Users in the clusterRoleBinding"
    )
    rb = {
        "metadata": meta("read-pods"),
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "pod-reader"},
        "subjects": [
            {"kind": "User", "name": "jane"},
            {"kind": "User", "name": "joe"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "build"},
            {"kind": "Robot", "name": "r2"},
        ],
    }
    assert cells(RBAC, "rolebindings", rb) == [
        "read-pods",
        "Role/pod-reader",
        "3d",
        "jane, joe",
        "devs",
        "build/ci",
    ]
    crb = {"metadata": meta("cluster-admin"), "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}}
    assert cells(RBAC, "clusterrolebindings", crb) == [
        "cluster-admin",
        "ClusterRole/cluster-admin",
        "3d",
        "",
        "",
        "",
    ]


def test_roles_use_the_default_table() -> None:
    for resource in ("roles", "clusterroles"):
        table = table_for(RBAC, resource, [{"metadata": meta("admin")}], now=NOW)
        assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
            ("Name", "string"),
            ("Created At", "date"),
        ]
        assert table["rows"][0]["cells"] == ["admin", "2024-04-28T12:00:00Z"]


# ---------------------------------------------------------------------------------------------
# storage
# ---------------------------------------------------------------------------------------------

STO = "storage.k8s.io"


def test_storage_class() -> None:
    assert columns(STO, "storageclasses") == [
        ("Name", "string", 0),
        ("Provisioner", "string", 0),
        ("ReclaimPolicy", "string", 0),
        ("VolumeBindingMode", "string", 0),
        ("AllowVolumeExpansion", "string", 0),
        ("Age", "string", 0),
    ]
    default = {
        "metadata": meta("standard", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    assert cells(STO, "storageclasses", default) == [
        "standard (default)",
        "rancher.io/local-path",
        "Delete",
        "WaitForFirstConsumer",
        False,
        "3d",
    ]
    beta = {
        "metadata": meta("fast", annotations={"storageclass.beta.kubernetes.io/is-default-class": "true"}),
        "provisioner": "csi.example.com",
        "reclaimPolicy": "Retain",
        "allowVolumeExpansion": True,
    }
    assert cells(STO, "storageclasses", beta) == [
        "fast (default)",
        "csi.example.com",
        "Retain",
        "Immediate",
        True,
        "3d",
    ]
    plain = {
        "metadata": meta("slow", annotations={"storageclass.kubernetes.io/is-default-class": "false"}),
        "provisioner": "p",
    }
    assert cells(STO, "storageclasses", plain)[:4] == ["slow", "p", "Delete", "Immediate"]


def test_volume_attributes_class() -> None:
    assert columns(STO, "volumeattributesclasses") == [
        ("Name", "string", 0),
        ("DriverName", "string", 0),
        ("Age", "string", 0),
    ]
    vac = {
        "metadata": meta(
            "gold", annotations={"volumeattributesclass.alpha.kubernetes.io/is-default-class": "true"}
        ),
        "driverName": "pd.csi.storage.gke.io",
        "parameters": {"iops": "3000"},
    }
    assert cells(STO, "volumeattributesclasses", vac) == ["gold (default)", "pd.csi.storage.gke.io", "3d"]


def test_volume_attachment() -> None:
    assert columns(STO, "volumeattachments") == [
        ("Name", "string", 0),
        ("Attacher", "string", 0),
        ("PV", "string", 0),
        ("Node", "string", 0),
        ("Attached", "boolean", 0),
        ("Age", "string", 0),
    ]
    assert table_for(STO, "volumeattachments", [])["columnDefinitions"][1]["format"] == "name"
    va = {
        "metadata": meta("csi-123"),
        "spec": {
            "attacher": "ebs.csi.aws.com",
            "nodeName": "node-a",
            "source": {"persistentVolumeName": "pv-1"},
        },
        "status": {"attached": True},
    }
    assert cells(STO, "volumeattachments", va) == ["csi-123", "ebs.csi.aws.com", "pv-1", "node-a", True, "3d"]
    inline = {
        "metadata": meta("csi-456"),
        "spec": {"attacher": "a", "nodeName": "n", "source": {"inlineVolumeSpec": {}}},
    }
    assert cells(STO, "volumeattachments", inline) == ["csi-456", "a", "", "n", False, "3d"]


def test_csi_driver_and_node() -> None:
    assert columns(STO, "csidrivers") == [
        ("Name", "string", 0),
        ("AttachRequired", "boolean", 0),
        ("PodInfoOnMount", "boolean", 0),
        ("StorageCapacity", "boolean", 0),
        ("TokenRequests", "string", 0),
        ("RequiresRepublish", "boolean", 0),
        ("Modes", "string", 0),
        ("Age", "string", 0),
    ]
    drv = {
        "metadata": meta("secrets-store.csi.k8s.io"),
        "spec": {
            "attachRequired": False,
            "podInfoOnMount": True,
            "tokenRequests": [{"audience": "api://a"}, {"audience": "vault"}],
            "requiresRepublish": True,
            "volumeLifecycleModes": ["Ephemeral"],
        },
    }
    assert cells(STO, "csidrivers", drv) == [
        "secrets-store.csi.k8s.io",
        False,
        True,
        False,
        "api://a,vault",
        True,
        "Ephemeral",
        "3d",
    ]
    bare = {"metadata": meta("b"), "spec": {}}
    assert cells(STO, "csidrivers", bare) == ["b", True, False, False, "<unset>", False, "<none>", "3d"]
    assert cells(STO, "csidrivers", {"metadata": meta("e"), "spec": {"tokenRequests": []}})[4] == ""
    assert columns(STO, "csinodes") == [
        ("Name", "string", 0),
        ("Drivers", "integer", 0),
        ("Age", "string", 0),
    ]
    node = {"metadata": meta("node-a"), "spec": {"drivers": [{"name": "ebs.csi.aws.com", "nodeID": "i-1"}]}}
    assert cells(STO, "csinodes", node) == ["node-a", 1, "3d"]


def test_csi_storage_capacity_uses_default_table() -> None:
    table = table_for(
        STO,
        "csistoragecapacities",
        [{"metadata": meta("cap"), "storageClassName": "fast", "capacity": "10Gi"}],
        now=NOW,
    )
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]


# ---------------------------------------------------------------------------------------------
# certificates, coordination, scheduling, node
# ---------------------------------------------------------------------------------------------


def test_certificate_signing_request() -> None:
    assert columns("certificates.k8s.io", "certificatesigningrequests") == [
        ("Name", "string", 0),
        ("Age", "string", 0),
        ("SignerName", "string", 0),
        ("Requestor", "string", 0),
        ("RequestedDuration", "string", 0),
        ("Condition", "string", 0),
    ]
    csr = {
        "metadata": meta("csr-abc"),
        "spec": {
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "username": "system:node:node-a",
            "expirationSeconds": 86400,
        },
        "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"},
    }
    assert cells("certificates.k8s.io", "certificatesigningrequests", csr) == [
        "csr-abc",
        "3d",
        "kubernetes.io/kube-apiserver-client-kubelet",
        "system:node:node-a",
        "24h",
        "Approved,Issued",
    ]
    pending = {"metadata": meta("p"), "spec": {"username": "u"}}
    assert cells("certificates.k8s.io", "certificatesigningrequests", pending)[2:] == [
        "<none>",
        "u",
        "<none>",
        "Pending",
    ]
    denied = {
        "metadata": meta("d"),
        "spec": {"expirationSeconds": 600},
        "status": {"conditions": [{"type": "Approved"}, {"type": "Denied"}, {"type": "Failed"}]},
    }
    assert cells("certificates.k8s.io", "certificatesigningrequests", denied)[4:] == ["10m", "Denied,Failed"]


def test_cluster_trust_bundle() -> None:
    assert columns("certificates.k8s.io", "clustertrustbundles") == [
        ("Name", "string", 0),
        ("SignerName", "string", 0),
    ]
    assert cells(
        "certificates.k8s.io", "clustertrustbundles", {"metadata": meta("b"), "spec": {"trustBundle": "x"}}
    ) == ["b", "<none>"]


def test_lease_and_candidate() -> None:
    assert columns("coordination.k8s.io", "leases") == [
        ("Name", "string", 0),
        ("Holder", "string", 0),
        ("Age", "string", 0),
    ]
    lease = {
        "metadata": meta("kube-scheduler"),
        "spec": {"holderIdentity": "node-a_1234", "leaseDurationSeconds": 15},
    }
    assert cells("coordination.k8s.io", "leases", lease) == ["kube-scheduler", "node-a_1234", "3d"]
    assert cells("coordination.k8s.io", "leases", {"metadata": meta("free"), "spec": {}}) == [
        "free",
        "",
        "3d",
    ]
    assert columns("coordination.k8s.io", "leasecandidates") == [
        ("Name", "string", 0),
        ("LeaseName", "string", 0),
        ("BinaryVersion", "string", 0),
        ("EmulationVersion", "string", 0),
        ("Age", "string", 0),
    ]
    cand = {
        "metadata": meta("kcm-a"),
        "spec": {
            "leaseName": "kube-controller-manager",
            "binaryVersion": "1.33.1",
            "emulationVersion": "1.33",
        },
    }
    assert cells("coordination.k8s.io", "leasecandidates", cand) == [
        "kcm-a",
        "kube-controller-manager",
        "1.33.1",
        "1.33",
        "3d",
    ]


def test_priority_class_and_runtime_class() -> None:
    assert columns("scheduling.k8s.io", "priorityclasses") == [
        ("Name", "string", 0),
        ("Value", "integer", 0),
        ("Global-Default", "boolean", 0),
        ("Age", "string", 0),
        ("PreemptionPolicy", "string", 0),
    ]
    pc = {
        "metadata": meta("system-cluster-critical"),
        "value": 2000000000,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    assert cells("scheduling.k8s.io", "priorityclasses", pc) == [
        "system-cluster-critical",
        2000000000,
        False,
        "3d",
        "PreemptLowerPriority",
    ]
    gd = {"metadata": meta("default"), "value": 0, "globalDefault": True}
    assert cells("scheduling.k8s.io", "priorityclasses", gd) == ["default", 0, True, "3d", ""]
    assert columns("node.k8s.io", "runtimeclasses") == [
        ("Name", "string", 0),
        ("Handler", "string", 0),
        ("Age", "string", 0),
    ]
    assert cells("node.k8s.io", "runtimeclasses", {"metadata": meta("gvisor"), "handler": "runsc"}) == [
        "gvisor",
        "runsc",
        "3d",
    ]


# ---------------------------------------------------------------------------------------------
# admission registration
# ---------------------------------------------------------------------------------------------

ADM = "admissionregistration.k8s.io"


def test_webhook_configurations() -> None:
    for resource in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        assert columns(ADM, resource) == [
            ("Name", "string", 0),
            ("Webhooks", "integer", 0),
            ("Age", "string", 0),
        ]
        obj = {"metadata": meta("istio"), "webhooks": [{"name": "a.example.com"}, {"name": "b.example.com"}]}
        assert cells(ADM, resource, obj) == ["istio", 2, "3d"]
        assert cells(ADM, resource, {"metadata": meta("none")}) == ["none", 0, "3d"]


def test_admission_policies() -> None:
    assert columns(ADM, "validatingadmissionpolicies") == [
        ("Name", "string", 0),
        ("Validations", "integer", 0),
        ("ParamKind", "string", 0),
        ("Age", "string", 0),
    ]
    vap = {
        "metadata": meta("replicas-limit"),
        "spec": {
            "paramKind": {"apiVersion": "rules.example.com/v1", "kind": "ReplicaLimit"},
            "validations": [{"expression": "true"}],
        },
    }
    assert cells(ADM, "validatingadmissionpolicies", vap) == [
        "replicas-limit",
        1,
        "rules.example.com/v1/ReplicaLimit",
        "3d",
    ]
    assert cells(ADM, "validatingadmissionpolicies", {"metadata": meta("p"), "spec": {}})[1:3] == [
        0,
        "<unset>",
    ]
    assert [c[0] for c in columns(ADM, "mutatingadmissionpolicies")] == [
        "Name",
        "Mutations",
        "ParamKind",
        "Age",
    ]
    mp = {"metadata": meta("m"), "spec": {"mutations": [{}, {}]}}
    assert cells(ADM, "mutatingadmissionpolicies", mp) == ["m", 2, "<unset>", "3d"]


def test_admission_policy_bindings() -> None:
    for resource in ("validatingadmissionpolicybindings", "mutatingadmissionpolicybindings"):
        assert columns(ADM, resource) == [
            ("Name", "string", 0),
            ("PolicyName", "string", 0),
            ("ParamRef", "string", 0),
            ("Age", "string", 0),
        ]
        named = {
            "metadata": meta("b"),
            "spec": {"policyName": "p", "paramRef": {"name": "limit", "namespace": "default"}},
        }
        assert cells(ADM, resource, named) == ["b", "p", "default/limit", "3d"]
        cluster = {"metadata": meta("b"), "spec": {"policyName": "p", "paramRef": {"name": "limit"}}}
        assert cells(ADM, resource, cluster)[2] == "*/limit"
        assert cells(ADM, resource, {"metadata": meta("b"), "spec": {"policyName": "p"}})[2] == "<unset>"
        by_selector = {
            "metadata": meta("b"),
            "spec": {
                "policyName": "p",
                "paramRef": {
                    "selector": {
                        "matchLabels": {"env": "prod"},
                        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
                    }
                },
            },
        }
        assert cells(ADM, resource, by_selector)[2] == (
            "&LabelSelector{MatchLabels:map[string]string{env: prod,},"
            "MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:tier,Operator:In,Values:[a b],},},}"
        )


# ---------------------------------------------------------------------------------------------
# flow control, apiserver internal, storage migration, DRA, apiservices
# ---------------------------------------------------------------------------------------------

FC = "flowcontrol.apiserver.k8s.io"


def test_flow_schemas_sorted_by_precedence() -> None:
    assert columns(FC, "flowschemas") == [
        ("Name", "string", 0),
        ("PriorityLevel", "string", 0),
        ("MatchingPrecedence", "string", 0),
        ("DistinguisherMethod", "string", 0),
        ("Age", "string", 0),
        ("MissingPL", "string", 0),
    ]
    fs = [
        {
            "metadata": meta("global-default"),
            "spec": {
                "priorityLevelConfiguration": {"name": "global-default"},
                "matchingPrecedence": 9900,
                "distinguisherMethod": {"type": "ByUser"},
            },
            "status": {"conditions": [{"type": "Dangling", "status": "False"}]},
        },
        {
            "metadata": meta("exempt"),
            "spec": {"priorityLevelConfiguration": {"name": "exempt"}, "matchingPrecedence": 1},
        },
        {
            "metadata": meta("b"),
            "spec": {
                "priorityLevelConfiguration": {"name": "workload-low"},
                "matchingPrecedence": 1000,
                "distinguisherMethod": {"type": "ByNamespace"},
            },
        },
        {
            "metadata": meta("a"),
            "spec": {"priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": 1000},
        },
    ]
    rows = table_for(FC, "flowschemas", fs, now=NOW)["rows"]
    assert [r["cells"] for r in rows] == [
        ["exempt", "exempt", 1, "<none>", "3d", "?"],
        ["a", "workload-low", 1000, "<none>", "3d", "?"],
        ["b", "workload-low", 1000, "ByNamespace", "3d", "?"],
        ["global-default", "global-default", 9900, "ByUser", "3d", "False"],
    ]
    assert rows[0]["object"]["metadata"]["name"] == "exempt"


def test_priority_level_configurations() -> None:
    assert columns(FC, "prioritylevelconfigurations") == [
        ("Name", "string", 0),
        ("Type", "string", 0),
        ("NominalConcurrencyShares", "string", 0),
        ("Queues", "string", 0),
        ("HandSize", "string", 0),
        ("QueueLengthLimit", "string", 0),
        ("Age", "string", 0),
    ]
    exempt = {"metadata": meta("exempt"), "spec": {"type": "Exempt", "exempt": {}}}
    assert cells(FC, "prioritylevelconfigurations", exempt) == [
        "exempt",
        "Exempt",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
        "3d",
    ]
    queued = {
        "metadata": meta("workload-low"),
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 100,
                "limitResponse": {
                    "type": "Queue",
                    "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50},
                },
            },
        },
    }
    assert cells(FC, "prioritylevelconfigurations", queued) == [
        "workload-low",
        "Limited",
        100,
        128,
        6,
        50,
        "3d",
    ]
    reject = {
        "metadata": meta("catch-all"),
        "spec": {
            "type": "Limited",
            "limited": {"nominalConcurrencyShares": 5, "limitResponse": {"type": "Reject"}},
        },
    }
    assert cells(FC, "prioritylevelconfigurations", reject)[2:6] == [5, "<none>", "<none>", "<none>"]


def test_storage_version_and_migration() -> None:
    assert columns("internal.apiserver.k8s.io", "storageversions") == [
        ("Name", "string", 0),
        ("CommonEncodingVersion", "string", 0),
        ("StorageVersions", "string", 0),
        ("Age", "string", 0),
    ]
    sv = {
        "metadata": meta("apps.deployments"),
        "status": {
            "commonEncodingVersion": "apps/v1",
            "storageVersions": [
                {"apiServerID": f"kube-apiserver-{i}", "encodingVersion": "apps/v1"} for i in range(4)
            ],
        },
    }
    assert cells("internal.apiserver.k8s.io", "storageversions", sv) == [
        "apps.deployments",
        "apps/v1",
        "kube-apiserver-0=apps/v1,kube-apiserver-1=apps/v1,kube-apiserver-2=apps/v1 + 1 more...",
        "3d",
    ]
    assert cells("internal.apiserver.k8s.io", "storageversions", {"metadata": meta("x")})[1:3] == [
        "<unset>",
        "<unset>",
    ]
    mig_cols = table_for("storagemigration.k8s.io", "storageversionmigrations", [])["columnDefinitions"]
    assert [(c["name"], c["format"]) for c in mig_cols] == [("Name", ""), ("Resource", "")]
    mig = {
        "metadata": meta("m"),
        "spec": {"resource": {"group": "apps", "version": "v1", "resource": "deployments"}},
    }
    assert cells("storagemigration.k8s.io", "storageversionmigrations", mig) == ["m", "deployments.v1.apps"]


def test_dynamic_resource_allocation() -> None:
    res = "resource.k8s.io"
    assert columns(res, "deviceclasses") == [("Name", "string", 0), ("Age", "string", 0)]
    assert cells(res, "deviceclasses", {"metadata": meta("gpu.example.com")}) == ["gpu.example.com", "3d"]
    assert columns(res, "resourceclaimtemplates") == [("Name", "string", 0), ("Age", "string", 0)]
    assert columns(res, "resourceclaims") == [
        ("Name", "string", 0),
        ("State", "string", 0),
        ("Age", "string", 0),
    ]
    assert cells(res, "resourceclaims", {"metadata": meta("c")}) == ["c", "pending", "3d"]
    allocated = {
        "metadata": meta("c"),
        "status": {"allocation": {}, "reservedFor": [{"resource": "pods", "name": "p"}]},
    }
    assert cells(res, "resourceclaims", allocated)[1] == "allocated,reserved"
    deleted = {"metadata": meta("c", deletionTimestamp=ts(seconds=1)), "status": {"allocation": {}}}
    assert cells(res, "resourceclaims", deleted)[1] == "deleted,allocated"
    assert (
        cells(res, "resourceclaims", {"metadata": meta("c", deletionTimestamp=ts(seconds=1))})[1] == "deleted"
    )
    assert columns(res, "resourceslices") == [
        ("Name", "string", 0),
        ("Node", "string", 0),
        ("Driver", "string", 0),
        ("Pool", "string", 0),
        ("Age", "string", 0),
    ]
    sl = {
        "metadata": meta("node-a-gpu-x"),
        "spec": {
            "nodeName": "node-a",
            "driver": "gpu.example.com",
            "pool": {"name": "node-a", "resourceSliceCount": 1},
        },
    }
    assert cells(res, "resourceslices", sl) == ["node-a-gpu-x", "node-a", "gpu.example.com", "node-a", "3d"]


def test_api_services() -> None:
    agg = "apiregistration.k8s.io"
    assert columns(agg, "apiservices") == [
        ("Name", "string", 0),
        ("Service", "string", 0),
        ("Available", "string", 0),
        ("Age", "string", 0),
    ]
    local = {
        "metadata": meta("v1.apps"),
        "spec": {"group": "apps", "version": "v1"},
        "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]},
    }
    assert cells(agg, "apiservices", local) == ["v1.apps", "Local", "True", "3d"]
    remote = {
        "metadata": meta("v1beta1.metrics.k8s.io"),
        "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
        "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]},
    }
    assert cells(agg, "apiservices", remote) == [
        "v1beta1.metrics.k8s.io",
        "kube-system/metrics-server",
        "False (MissingEndpoints)",
        "3d",
    ]
    assert cells(agg, "apiservices", {"metadata": meta("x")})[2] == "Unknown"
    # the aggregator's convertor ignores noHeaders
    assert table_for(agg, "apiservices", [local], no_headers=True)["columnDefinitions"] is not None
