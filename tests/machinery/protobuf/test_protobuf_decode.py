"""Decoding Kubernetes protobuf bodies to the JSON dicts upstream would produce.

The envelopes here are written field number by field number (numbers from the
upstream generated.proto files), independently of the encoder, the way Go's
generated marshallers write them: every non-pointer field, zero or not.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kybernetes.machinery.protobuf import (
    ProtobufDecodeError,
    ProtobufEncodeError,
    decode_k8s_envelope,
    decode_message,
    encode_k8s_envelope,
    encode_message,
)
from kybernetes.machinery.protobuf.decode import format_go_duration, parse_go_duration
from kybernetes.machinery.protobuf.schema import tables
from kybernetes.machinery.protobuf.wire import Writer

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def m(*fields: tuple[int, Any]) -> bytes:
    """A message from (field number, value): int → varint, str → string, bytes → length-delimited."""
    w = Writer()
    for num, v in fields:
        if isinstance(v, bool):
            w.bool_field(num, v)
        elif isinstance(v, int):
            w.varint_field(num, v)
        elif isinstance(v, str):
            w.string_field(num, v)
        else:
            w.bytes_field(num, v)
    return w.getvalue()


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + m((1, m((1, api_version), (2, kind))), (2, raw), (3, ""), (4, ""))


def go_object_meta(name: str, namespace: str = "", labels: dict[str, str] | None = None) -> bytes:
    """ObjectMeta as Go writes it: all non-pointer fields, zero Time as an empty message."""
    fields: list[tuple[int, Any]] = [
        (1, name),
        (2, ""),
        (3, namespace),
        (4, ""),
        (5, ""),
        (6, ""),
        (7, 0),
        (8, b""),
    ]
    for k, v in sorted((labels or {}).items()):
        fields.append((11, m((1, k), (2, v))))
    return m(*fields)


def int_or_string(v: int | str) -> bytes:
    if isinstance(v, int):
        return m((1, 0), (2, v), (3, ""))
    return m((1, 1), (2, 0), (3, v))


def quantity(s: str) -> bytes:
    return m((1, s))


# ----------------------------------------------------------------------------- objects


def test_configmap() -> None:
    raw = m(
        (1, go_object_meta("cm1", "default")),
        (2, m((1, "b"), (2, "2"))),
        (2, m((1, "a"), (2, "1"))),
        (3, m((1, "bin"), (2, b"\x00\xff"))),
    )
    assert decode_k8s_envelope(envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm1", "namespace": "default", "creationTimestamp": None},
        "data": {"a": "1", "b": "2"},
        "binaryData": {"bin": "AP8="},
    }


def test_secret_bytes_are_base64_and_type_kept() -> None:
    raw = m(
        (1, go_object_meta("s")),
        (2, m((1, "pw"), (2, b"hunter2"))),
        (2, m((1, "empty"), (2, b""))),
        (3, "Opaque"),
        (5, False),
    )
    obj = decode_k8s_envelope(envelope("v1", "Secret", raw))
    assert obj["data"] == {"empty": "", "pw": base64.b64encode(b"hunter2").decode()}
    assert obj["type"] == "Opaque"
    assert obj["immutable"] is False  # *bool: present on the wire means set
    assert list(obj) == ["apiVersion", "kind", "metadata", "immutable", "data", "type"]  # Go struct order


def test_namespace() -> None:
    raw = m((1, go_object_meta("ns1")), (2, m()), (3, m((1, ""))))
    assert decode_k8s_envelope(envelope("v1", "Namespace", raw)) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "ns1", "creationTimestamp": None},
        "spec": {},
        "status": {},
    }


def deployment_raw() -> bytes:
    container = m(
        (1, "nginx"),
        (2, "nginx:1.27"),
        (6, m((1, "http"), (2, 0), (3, 80), (4, "TCP"), (5, ""))),
        (7, m((1, "CM"), (2, ""), (3, m((3, m((1, m((1, "cfg"))), (2, "key"))))))),
        (
            8,
            m(
                (1, m((1, "cpu"), (2, quantity("500m")))),
                (1, m((1, "memory"), (2, quantity("128Mi")))),
                (2, m((1, "cpu"), (2, quantity("250m")))),
            ),
        ),
        (
            11,
            m(
                (1, m((2, m((1, "/healthz"), (2, int_or_string("http")), (3, ""), (4, "HTTP"))))),
                (2, 5),
                (3, 1),
                (4, 10),
                (5, 1),
                (6, 3),
            ),
        ),
        (13, "/dev/termination-log"),
        (14, "IfNotPresent"),
        (16, False),
        (17, False),
        (18, False),
    )
    pod_spec = m(
        (2, container),
        (3, "Always"),
        (4, 30),
        (6, "ClusterFirst"),
        (8, ""),
        (9, ""),
        (10, ""),
        (11, False),
        (12, False),
        (13, False),
        (14, m()),
        (16, ""),
        (17, ""),
        (19, "default-scheduler"),
    )
    template = m((1, go_object_meta("", labels={"app": "web"})), (2, pod_spec))
    strategy = m((1, "RollingUpdate"), (2, m((1, int_or_string(1)), (2, int_or_string("25%")))))
    spec = m(
        (1, 3),
        (2, m((1, m((1, "app"), (2, "web"))))),
        (3, template),
        (4, strategy),
        (5, 0),
        (6, 10),
        (7, False),
        (9, 600),
    )
    status = m((1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (7, 0), (8, 0))
    return m((1, go_object_meta("web", "default", {"app": "web"})), (2, spec), (3, status))


DEPLOYMENT_JSON = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "creationTimestamp": None, "labels": {"app": "web"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx:1.27",
                        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                        "env": [
                            {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "key"}}}
                        ],
                        "resources": {
                            "limits": {"cpu": "500m", "memory": "128Mi"},
                            "requests": {"cpu": "250m"},
                        },
                        "readinessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                            "initialDelaySeconds": 5,
                            "timeoutSeconds": 1,
                            "periodSeconds": 10,
                            "successThreshold": 1,
                            "failureThreshold": 3,
                        },
                        "terminationMessagePath": "/dev/termination-log",
                        "imagePullPolicy": "IfNotPresent",
                    }
                ],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "securityContext": {},
                "schedulerName": "default-scheduler",
            },
        },
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    },
    "status": {},
}


def test_deployment() -> None:
    obj = decode_k8s_envelope(envelope("apps/v1", "Deployment", deployment_raw()))
    assert obj == DEPLOYMENT_JSON


def test_deployment_replicas_zero_is_kept() -> None:
    spec = m((1, 0), (2, m()), (3, m()), (4, m()), (5, 0), (7, False))
    obj = decode_k8s_envelope(envelope("apps/v1", "Deployment", m((2, spec))))
    assert obj["spec"]["replicas"] == 0  # *int32 explicitly 0: scale to zero, not "default 1"
    assert "minReadySeconds" not in obj["spec"]  # int32 omitempty
    assert "paused" not in obj["spec"]  # bool omitempty


def test_job() -> None:
    pod_spec = m((2, m((1, "pi"), (2, "perl"), (3, "perl"), (3, "-e"), (3, "print 1"))), (3, "Never"))
    spec = m(
        (1, 2), (2, 4), (7, 0), (6, m((1, go_object_meta("")), (2, pod_spec))), (9, "NonIndexed"), (10, False)
    )
    obj = decode_k8s_envelope(envelope("batch/v1", "Job", m((1, go_object_meta("pi")), (2, spec), (3, m()))))
    assert obj == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "creationTimestamp": None},
        "spec": {
            "parallelism": 2,
            "completions": 4,
            "backoffLimit": 0,  # *int32 set to 0: no retries (the default would be 6)
            "template": {
                "metadata": {"creationTimestamp": None},
                "spec": {
                    "containers": [{"name": "pi", "image": "perl", "command": ["perl", "-e", "print 1"]}],
                    "restartPolicy": "Never",
                },
            },
            "completionMode": "NonIndexed",
        },
        "status": {},
    }


def test_self_subject_access_review() -> None:
    attrs = m(
        (1, "kube-system"),
        (2, "get"),
        (3, "apps"),
        (4, "v1"),
        (5, "deployments"),
        (6, "scale"),
        (7, "coredns"),
    )
    raw = m((1, go_object_meta("")), (2, m((1, attrs))), (3, m((1, False), (2, ""), (3, ""), (4, False))))
    assert decode_k8s_envelope(envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw)) == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {"creationTimestamp": None},
        "spec": {
            "resourceAttributes": {
                "namespace": "kube-system",
                "verb": "get",
                "group": "apps",
                "version": "v1",
                "resource": "deployments",
                "subresource": "scale",
                "name": "coredns",
            }
        },
        "status": {"allowed": False},  # required (no omitempty) in Go
    }


def test_token_request() -> None:
    bound = m((1, "Pod"), (2, "v1"), (3, "p"), (4, "0a1b"))
    spec = m((1, "https://kubernetes.default.svc"), (1, "vault"), (4, 3600), (3, bound))
    status = m((1, ""), (2, m((1, 1893456000), (2, 0))))
    raw = m((1, go_object_meta("")), (2, spec), (3, status))
    assert decode_k8s_envelope(envelope("authentication.k8s.io/v1", "TokenRequest", raw)) == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {"creationTimestamp": None},
        "spec": {
            "audiences": ["https://kubernetes.default.svc", "vault"],
            "expirationSeconds": 3600,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "0a1b"},
        },
        "status": {"token": "", "expirationTimestamp": "2030-01-01T00:00:00Z"},  # token: no omitempty
    }


def test_inline_embedded_structs() -> None:
    # Volume.volumeSource and ConfigMapVolumeSource.localObjectReference are inlined in JSON.
    vol = m((1, "cfg"), (2, m((19, m((1, m((1, "app-config"))), (3, 420), (4, True))))))
    pod = decode_message("k8s.io.api.core.v1.PodSpec", m((1, vol)))
    assert pod == {
        "volumes": [
            {"name": "cfg", "configMap": {"name": "app-config", "defaultMode": 420, "optional": True}}
        ]
    }


def test_json_names_that_differ_from_proto_names() -> None:
    # BoundObjectReference.uID -> uid; MutatingWebhookConfiguration.Webhooks -> webhooks.
    t = tables()
    names = {f.name: f.json for f in t.messages["k8s.io.api.authentication.v1.BoundObjectReference"].fields}
    assert names["uID"] == "uid"
    names = {
        f.name: f.json
        for f in t.messages["k8s.io.api.admissionregistration.v1.MutatingWebhookConfiguration"].fields
    }
    assert names["Webhooks"] == "webhooks"
    names = {f.name: f.json for f in t.messages["k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"].fields}
    assert names["generateName"] == "generateName"


def test_special_types() -> None:
    # managedFields: MicroTime-less Time, FieldsV1 as embedded JSON
    mf = m(
        (1, "kubectl"),
        (2, "Update"),
        (3, "v1"),
        (4, m((1, 1704067200))),
        (6, "FieldsV1"),
        (7, m((1, b'{"f:data":{"f:a":{}}}'))),
        (8, ""),
    )
    meta = decode_message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", m((17, mf)))
    assert meta == {
        "managedFields": [
            {
                "manager": "kubectl",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2024-01-01T00:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {"f:a": {}}},
            }
        ]
    }
    # MicroTime keeps microseconds; Event.eventTime
    ev = decode_message("k8s.io.api.events.v1.Event", m((2, m((1, 1704067200), (2, 123456789)))))
    assert ev == {"eventTime": "2024-01-01T00:00:00.123456Z"}
    # Duration as a Go duration string (HPA? no: flowcontrol/storage use it; CSIDriver has none) via meta
    assert decode_message("k8s.io.api.coordination.v1.LeaseSpec", m((1, "me"), (2, 15))) == {
        "holderIdentity": "me",
        "leaseDurationSeconds": 15,
    }
    # RawExtension: ControllerRevision.data
    cr = decode_message("k8s.io.api.apps.v1.ControllerRevision", m((2, m((1, b'{"spec":{"x":1}}'))), (3, 2)))
    assert cr == {"data": {"spec": {"x": 1}}, "revision": 2}
    # Go's zero time (year 1) is null too
    assert decode_message(
        "k8s.io.api.authentication.v1.TokenRequestStatus", m((2, m((1, -62135596800))))
    ) == {"expirationTimestamp": None}


def test_array_wrapper_types_are_plain_lists() -> None:
    info = m((1, "bob"), (4, m((1, "scopes"), (2, m((1, "a"), (1, "b"))))))
    assert decode_message("k8s.io.api.authentication.v1.UserInfo", info) == {
        "username": "bob",
        "extra": {"scopes": ["a", "b"]},
    }
    sar = decode_message(
        "k8s.io.api.authorization.v1.SubjectAccessReviewSpec",
        m((3, "bob"), (5, m((1, "scopes"), (2, m((1, "a"), (1, "b")))))),
    )
    assert sar == {"user": "bob", "extra": {"scopes": ["a", "b"]}}


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1500, "1.5µs"),
        (1_500_000, "1.5ms"),
        (1_000_000_000, "1s"),
        (3_723_000_000_000, "1h2m3s"),
        (3_600_000_000_000, "1h0m0s"),
        (90_500_000_000, "1m30.5s"),
        (-2_000_000_000, "-2s"),
    ],
)
def test_go_duration(ns: int, text: str) -> None:
    assert format_go_duration(ns) == text
    assert parse_go_duration(text) == ns


def test_duration_message() -> None:
    # No 1.33 API field uses meta.v1.Duration any more; the codec still knows its JSON form.
    from kybernetes.machinery.protobuf.decode import _decode_value, _encode_value
    from kybernetes.machinery.protobuf.schema import DURATION

    assert _decode_value(DURATION, m((1, 90 * 10**9)), 0) == "1m30s"
    assert _decode_value(DURATION, _encode_value(DURATION, "1h0m0.5s"), 0) == "1h0m0.5s"


def test_list_items_have_no_type_meta() -> None:
    item = m((1, go_object_meta("a")), (2, m((1, "k"), (2, "v"))))
    body = envelope("v1", "ConfigMapList", m((1, m((2, "42"))), (2, item), (2, item)))
    obj = decode_k8s_envelope(body)
    assert obj["metadata"] == {"resourceVersion": "42"}
    assert obj["items"] == [{"metadata": {"name": "a", "creationTimestamp": None}, "data": {"k": "v"}}] * 2


def test_unknown_fields_are_skipped_and_packed_repeated_accepted() -> None:
    raw = m((1, go_object_meta("x")), (999, "future"), (2, m((1, "kubernetes"), (77, 5))))
    assert decode_k8s_envelope(envelope("v1", "Namespace", raw))["spec"] == {"finalizers": ["kubernetes"]}
    # a repeated int32 written packed
    t = tables()
    holder, field = next(
        (name, f)
        for name, msg in t.messages.items()
        for f in msg.fields
        if f.repeated and not f.is_map and f.type == "int32"
    )
    w = Writer()
    w.bytes_field(field.number, b"\x01\x02\x96\x01")
    assert decode_message(holder, w.getvalue())[field.json] == [1, 2, 150]


def test_group_to_package_mapping() -> None:
    t = tables()
    cases = {
        ("v1", "Pod"): "k8s.io.api.core.v1.Pod",
        ("apps/v1", "Deployment"): "k8s.io.api.apps.v1.Deployment",
        ("rbac.authorization.k8s.io/v1", "ClusterRole"): "k8s.io.api.rbac.v1.ClusterRole",
        (
            "authorization.k8s.io/v1",
            "SelfSubjectRulesReview",
        ): "k8s.io.api.authorization.v1.SelfSubjectRulesReview",
        ("networking.k8s.io/v1", "Ingress"): "k8s.io.api.networking.v1.Ingress",
        ("policy/v1", "PodDisruptionBudget"): "k8s.io.api.policy.v1.PodDisruptionBudget",
        ("scheduling.k8s.io/v1", "PriorityClass"): "k8s.io.api.scheduling.v1.PriorityClass",
        ("autoscaling/v2", "HorizontalPodAutoscaler"): "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler",
        ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema"): "k8s.io.api.flowcontrol.v1.FlowSchema",
        (
            "internal.apiserver.k8s.io/v1alpha1",
            "StorageVersion",
        ): "k8s.io.api.apiserverinternal.v1alpha1.StorageVersion",
        ("v1", "Status"): "k8s.io.apimachinery.pkg.apis.meta.v1.Status",
        ("meta.k8s.io/v1", "DeleteOptions"): "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    }
    for (av, kind), name in cases.items():
        msg = t.message_for_kind(av, kind)
        assert msg is not None and msg.name == name, (av, kind)
    assert t.message_for_kind("apps.example.com/v1", "Deployment") is None  # a CRD group
    assert t.message_for_kind("v1", "NoSuchKind") is None
    assert t.message_for_kind("", "Pod") is None


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"k8s",
        b'{"kind":"Pod"}',
        b"k8s\x00\x0a",  # truncated
        b"k8s\x00",  # no type meta
        envelope("v1", "NoSuchKind", b""),
        envelope("example.com/v1", "Widget", b""),
        envelope("v1", "ConfigMap", b"\x0a\x05ab"),  # raw runs past its end
        envelope("v1", "ConfigMap", m((1, 5))),  # metadata with a varint wire type
        envelope("v1", "ConfigMap", m((1, m((1, b"\xff\xfe"))))),  # name not UTF-8
        envelope("apps/v1", "Deployment", m((2, m((4, m((2, m((1, m((1, 7))))))))))),  # IntOrString type 7
        envelope("apps/v1", "ControllerRevision", m((2, m((1, b"{not json"))))),
        b"k8s\x00" + m((1, m((1, "v1"), (2, "ConfigMap"))), (3, "gzip")),  # content encoding
    ],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(ProtobufDecodeError):
        decode_k8s_envelope(body)


def test_deep_nesting_is_rejected_cleanly() -> None:
    # JSONSchemaProps-like recursion is not in the tables; use RawExtension holding envelopes.
    inner = envelope("v1", "ConfigMap", b"")
    for _ in range(150):
        inner = envelope("apps/v1", "ControllerRevision", m((2, m((1, inner)))))
    with pytest.raises(ProtobufDecodeError):
        decode_k8s_envelope(inner)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_random_bodies(tail: bytes) -> None:
    for body in (tail, b"k8s\x00" + tail, envelope("apps/v1", "Deployment", tail)):
        try:
            decode_k8s_envelope(body)
        except ProtobufDecodeError:
            pass


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_deployment(data: st.DataObject) -> None:
    body = bytearray(envelope("apps/v1", "Deployment", deployment_raw()))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    try:
        decode_k8s_envelope(bytes(body[:cut]))
    except ProtobufDecodeError:
        pass


# ----------------------------------------------------------------------------- encoding


def test_roundtrip_deployment() -> None:
    body = encode_k8s_envelope(DEPLOYMENT_JSON)
    assert body.startswith(b"k8s\x00")
    assert decode_k8s_envelope(body) == DEPLOYMENT_JSON


ROUNDTRIP_OBJECTS: list[dict[str, Any]] = [
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "c",
            "namespace": "n",
            "uid": "u",
            "resourceVersion": "7",
            "generation": 2,
            "creationTimestamp": "2024-05-06T07:08:09Z",
            "annotations": {"a": "b"},
        },
        "data": {"x": "y"},
        "immutable": True,
    },
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"k": "aGk="},
        "type": "Opaque",
    },
    {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {
            "schedule": "* * * * *",
            "suspend": True,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "c", "image": "busybox", "securityContext": {"runAsUser": 0}}
                            ]
                        }
                    },
                }
            },
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {
            "ports": [{"port": 80, "targetPort": "http", "nodePort": 30080}],
            "clusterIP": "None",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}},
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "deletionTimestamp": "2024-01-01T00:00:00Z",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "X", "name": "x", "uid": "1", "controller": True}
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "b",
                    "resources": {"limits": {"cpu": "1"}},
                    "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5},
                }
            ],
            "volumes": [
                {"name": "v", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "s", "secret": {"secretName": "x", "items": [{"key": "a", "path": "b"}]}},
            ],
            "tolerations": [{"key": "k", "operator": "Exists", "tolerationSeconds": -5}],
        },
        "status": {
            "phase": "Running",
            "podIPs": [{"ip": "10.0.0.1"}],
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}],
        },
    },
    {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e"},
        "eventTime": "2024-01-01T00:00:00.500000Z",
        "reportingController": "x",
        "reason": "R",
    },
    {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "u",
            "groups": ["g"],
            "extra": {"k": ["a", "b"]},
            "nonResourceAttributes": {"path": "/x", "verb": "get"},
        },
        "status": {"allowed": True},
    },
    {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l"},
        "spec": {
            "holderIdentity": "h",
            "leaseDurationSeconds": 15,
            "renewTime": "2024-01-01T00:00:00.000001Z",
        },
    },
]


@pytest.mark.parametrize("obj", ROUNDTRIP_OBJECTS, ids=lambda o: o["kind"])
def test_roundtrip(obj: dict[str, Any]) -> None:
    assert decode_k8s_envelope(encode_k8s_envelope(obj)) == obj


def test_encode_errors() -> None:
    with pytest.raises(ProtobufEncodeError):
        encode_k8s_envelope({"kind": "ConfigMap"})
    with pytest.raises(ProtobufEncodeError):
        encode_k8s_envelope({"apiVersion": "v1", "kind": "Nope"})
    with pytest.raises(ProtobufEncodeError):
        encode_k8s_envelope({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": 1}})
    with pytest.raises(ProtobufEncodeError):
        encode_k8s_envelope({"apiVersion": "v1", "kind": "Secret", "data": {"a": "not base64!"}})
    with pytest.raises(ProtobufEncodeError):
        encode_message("k8s.io.api.core.v1.ContainerPort", {"containerPort": 2**40})
    with pytest.raises(ProtobufEncodeError):
        encode_message("k8s.io.api.core.v1.PodStatus", {"startTime": "yesterday"})


# ----------------------------------------------------------------------------- real kubectl bodies


def _strip_go_nulls(o: Any) -> Any:
    """Go's JSON writes nil slices/pointers without omitempty as null; absent is equivalent."""
    if isinstance(o, dict):
        return {
            k: _strip_go_nulls(v)
            for k, v in o.items()
            if v is not None or k in ("creationTimestamp", "expirationTimestamp")
        }
    if isinstance(o, list):
        return [_strip_go_nulls(x) for x in o]
    return o


# kubectl 1.31 (JSON) created autoscaling/v1 HPAs; 1.33 sends autoscaling/v2.
_EXPECTED_OVERRIDES = {
    "kubectl autoscale deployment web --max=5 --min=2 --cpu-percent=50": {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "creationTimestamp": None},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": 2,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                }
            ],
        },
        "status": {"desiredReplicas": 0},
    },
}


def _fixtures() -> list[dict[str, Any]]:
    with open(os.path.join(DATA, "kubectl_bodies.json")) as fh:
        result: list[dict[str, Any]] = json.load(fh)
    return result


@pytest.mark.parametrize("fixture", _fixtures(), ids=lambda f: f["command"][8:60])
def test_real_kubectl_protobuf_bodies_match_its_json(fixture: dict[str, Any]) -> None:
    """kubectl 1.33's protobuf body decodes to what kubectl 1.31 sent as JSON for the same command."""
    body = base64.b64decode(fixture["protobuf"])
    decoded = decode_k8s_envelope(body)
    expected = _EXPECTED_OVERRIDES.get(fixture["command"]) or _strip_go_nulls(fixture["json"])
    assert decoded == expected
    assert list(decoded)[:2] == ["apiVersion", "kind"]
    # and our encoder's output decodes the same
    assert decode_k8s_envelope(encode_k8s_envelope(decoded)) == decoded


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
_label_maps = st.dictionaries(_text, _text, max_size=5)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=_text.filter(bool),
    labels=_label_maps,
    data=_label_maps,
    binary=st.dictionaries(_text, st.binary(max_size=20), max_size=3),
    replicas=st.integers(-(2**31), 2**31 - 1),
    ports=st.lists(st.integers(1, 65535), max_size=3),
    surge=st.one_of(st.integers(-(2**31), 2**31 - 1), _text),
)
def test_roundtrip_property(
    name: str,
    labels: dict[str, str],
    data: dict[str, str],
    binary: dict[str, bytes],
    replicas: int,
    ports: list[int],
    surge: int | str,
) -> None:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": None}
    if labels:
        meta["labels"] = dict(sorted(labels.items()))
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if data:
        cm["data"] = dict(sorted(data.items()))
    if binary:
        cm["binaryData"] = {k: base64.b64encode(v).decode() for k, v in sorted(binary.items())}
    assert decode_k8s_envelope(encode_k8s_envelope(cm)) == cm
    dep: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"creationTimestamp": None},
                "spec": {"containers": [{"name": "c", "ports": [{"containerPort": p} for p in ports]}]},
            },
            "strategy": {"rollingUpdate": {"maxSurge": surge}},
        },
    }
    if not ports:
        del dep["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert decode_k8s_envelope(encode_k8s_envelope(dep)) == dep
