"""Streams between kubectl, the API server and the kubelet: logs, exec, attach and port-forward.

The wire protocols are written here by hand because no maintained Python library speaks them:

- `spdy`: SPDY/3.1 framing, header compression and a server-side connection;
- `websocket`: the v1..v5.channel.k8s.io channel framing and the SPDY-in-WebSocket tunnel, over aiohttp;
- `remotecommand`: exec/attach sessions over either, with the Status/exit-code reporting kubectl expects;
- `portforward`: portforward.k8s.io stream pairs, and the WebSocket channel variant;
- `upgrade`: taking over an aiohttp connection after a 101;
- `kubeletserver`: the kubelet's HTTPS API; `proxy`: the API server's pods/log|exec|attach|portforward;
- `crilog` and `process`: CRI log files and pty/pipe plumbing that runtimes reuse.

The runtime they drive is described by `runtime_api.StreamingRuntime`.
"""
