"""WebSocket channel framing (v5.channel.k8s.io) and resize decoding."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.streaming import remotecommand
from kybernetes.streaming import websocket as ws
from kybernetes.streaming.runtime_api import TerminalSize


def test_channel_messages() -> None:
    assert ws.encode_message(ws.STDOUT, b"hi") == b"\x01hi"
    assert ws.decode_message(b"\x00echo hi\r") == (ws.STDIN, b"echo hi\r")
    assert ws.decode_message(b"\xff\x00") == (ws.CLOSE_SIGNAL, b"\x00")
    assert ws.decode_message(b"") == (-1, b"")
    with pytest.raises(ValueError):
        ws.encode_message(256, b"")


def test_resize_decoder_handles_splits_and_garbage() -> None:
    q: asyncio.Queue[TerminalSize] = asyncio.Queue()
    d = remotecommand.ResizeDecoder(q)
    d.feed(b'{"Width":100,')
    assert q.empty()
    d.feed(b'"Height":30}\n{"Width":80,"Height":24}\n')
    d.feed(b'{"Width":0,"Height":0}\n{"Width":120,"Height":40}')
    assert [q.get_nowait() for _ in range(q.qsize())] == [
        TerminalSize(100, 30), TerminalSize(80, 24), TerminalSize(120, 40)
    ]


def test_status_shapes() -> None:
    st = remotecommand.status_exit_code(3, ["sh", "-c", "exit 3"])
    assert st["reason"] == "NonZeroExitCode"
    assert st["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert remotecommand.error_payload(remotecommand.status_success(), 5) == b'{"metadata":{},"status":"Success"}'
    assert remotecommand.error_payload(remotecommand.status_success(), 2) == b""
    assert remotecommand.error_payload(st, 3).startswith(b"command terminated with non-zero exit code")


def test_negotiate_and_options() -> None:
    assert remotecommand.negotiate(["v4.channel.k8s.io", "v3.channel.k8s.io"]) == "v4.channel.k8s.io"
    assert remotecommand.negotiate(["v5.channel.k8s.io, v4.channel.k8s.io"]) == "v5.channel.k8s.io"
    assert remotecommand.negotiate(["v9.channel.k8s.io"]) is None
    from multidict import MultiDict

    q = MultiDict([("command", "sh"), ("command", "-c"), ("command", "echo hi"), ("stdout", "true"), ("tty", "true"),
                   ("stderr", "true")])
    o = remotecommand.options_from_query(q, exec_=True)
    assert o.command == ("sh", "-c", "echo hi") and o.tty and o.stdout and not o.stderr
    with pytest.raises(remotecommand.BadRequest):
        remotecommand.options_from_query(MultiDict([("command", "ls")]), exec_=True)
    with pytest.raises(remotecommand.BadRequest):
        remotecommand.options_from_query(MultiDict([("stdout", "true")]), exec_=True)
