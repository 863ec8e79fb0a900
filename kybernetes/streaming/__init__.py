"""Streams between kubectl, the API server and the kubelet: logs, exec, attach and port-forward.

The wire protocols (SPDY/3.1, the remotecommand channel protocols, WebSocket v5.channel.k8s.io, port-forward) are
written here by hand because no maintained Python library speaks them; the runtime they drive is described by
`runtime_api.StreamingRuntime`.
"""
