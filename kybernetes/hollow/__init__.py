"""Hollow nodes: thousands of simulated kubelets in one process, for tests, benchmarks and `kyb server --hollow-nodes`.

Every controller and the scheduler see ordinary Nodes, Leases and pods that start, become Ready, finish and go
away; nothing runs. See `pool` for nodes and heartbeats and `pods` for the pod lifecycle.
"""

from kybernetes.hollow.pool import HollowNodePool

__all__ = ["HollowNodePool"]
