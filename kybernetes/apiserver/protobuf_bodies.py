"""Kubernetes protobuf request bodies (kubectl >= 1.32 sends them for typed-client commands) decoded to JSON."""

from __future__ import annotations

from typing import Any

from kybernetes.machinery import errors


def decode_protobuf_body(body: bytes) -> Any:
    from kybernetes.machinery.protobuf.decode import ProtobufDecodeError, decode_k8s_envelope

    try:
        return decode_k8s_envelope(body)
    except ProtobufDecodeError as e:
        raise errors.bad_request(f"unable to decode protobuf body: {e}") from None
