"""The kubelet: runs the pods bound to this node as real processes, reports them through the API.

Layout (each module says why it exists):

- `agent.NodeAgent`: the Node object (capacity, addresses, podCIDR, pressure conditions, root/rootless mode), its
  Lease, and the kubelet HTTPS API (kybernetes.streaming.kubeletserver over `streaming_runtime`).
- `kubelet.Kubelet`: pod informer -> one `pod_worker.PodWorker` per pod; relist and housekeeping loops.
- `status`, `probes`, `backoff`, `envvars`, `dns`, `volumes/`, `events`, `stats`: what a pod worker needs.
- `runtime/`: the CRI-shaped `RuntimeService` Protocol (`api.py`) and the process runtime implementing it.

Modes (reported on the Node as label and annotation `kybernetes.io/runtime-mode`):

- root: each pod gets a network namespace on the node bridge (`kyb0`, address from the node's podCIDR, NAT to the
  outside), persistent UTS (hostname = pod name) and IPC namespaces and a pod cgroup; each container runs in its own
  pid namespace (as upstream without shareProcessNamespace, which is not supported) and a private mount namespace
  where volumes, kubelet-managed /etc/hosts, /etc/hostname and /etc/resolv.conf and the termination-message file are
  bind-mounted; cgroup v1 memory/cpu/pids limits come from `resources`. Mount points that do not exist on the
  host are created for the pod's lifetime and removed with it.
- rootless: containers are host processes in their own sessions, sharing the host network (pod IP = node IP) and
  filesystem with no resource limits; a volume appears at its mountPath as a symlink to the volume directory when
  that path does not exist yet and can be created (otherwise it is only at its directory under the data dir); no
  termination-message file, no private /etc/hosts, /etc/hostname or /etc/resolv.conf.

Images mean nothing to the process runtime: a container must have an explicit `command` (its `image` is reported
back but not used), and the node's PATH is the container's default PATH.
"""
