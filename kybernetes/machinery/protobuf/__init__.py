"""Protobuf for the API server: Kubernetes request/response bodies and the OpenAPI v2 document.

Why a package of its own: kubectl ≥ 1.32 sends ``application/vnd.kubernetes.protobuf``
bodies for the objects its generators build, and kubectl 1.27/1.28 require
``GET /openapi/v2`` as a protobuf gnostic document.  Both are served from
field tables and a small hand-written wire codec (:mod:`.wire`), without
generated code.

Public API:

* :func:`decode_k8s_envelope` / :func:`encode_k8s_envelope`: ``k8s\\0`` + runtime.Unknown bodies.
* :func:`decode_message` / :func:`encode_message`: one message by its proto name.
* :func:`openapi_v2_protobuf`: swagger 2.0 JSON → serialized ``openapi.v2.Document``;
  :func:`openapi_v2_protobuf_media_type` tells from ``Accept`` whether a client wants it.
* :class:`ProtobufDecodeError` (→ 400 Bad Request), :class:`ProtobufEncodeError`.
"""

from .decode import (
    ENVELOPE_MAGIC,
    decode_k8s_envelope,
    decode_message,
    encode_k8s_envelope,
    encode_message,
)
from .openapi_v2 import (
    OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
    OPENAPI_V2_PROTOBUF_MEDIA_TYPES,
    OPENAPI_V2_PROTOBUF_RESPONSE_CONTENT_TYPE,
    openapi_v2_protobuf,
    openapi_v2_protobuf_media_type,
)
from .wire import ProtobufDecodeError, ProtobufEncodeError

__all__ = [
    "ENVELOPE_MAGIC",
    "KUBERNETES_PROTOBUF_CONTENT_TYPE",
    "OPENAPI_V2_PROTOBUF_CONTENT_TYPE",
    "OPENAPI_V2_PROTOBUF_MEDIA_TYPES",
    "OPENAPI_V2_PROTOBUF_RESPONSE_CONTENT_TYPE",
    "ProtobufDecodeError",
    "ProtobufEncodeError",
    "decode_k8s_envelope",
    "decode_message",
    "encode_k8s_envelope",
    "encode_message",
    "openapi_v2_protobuf",
    "openapi_v2_protobuf_media_type",
]

KUBERNETES_PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
