"""kybernetes: Kubernetes, written in Python.

An API server on an etcd-shaped store plus components (scheduler, controllers, kubelet, proxy, DNS, ingress)
that are each only clients of that API, so the real kubectl and client libraries drive the cluster unchanged.
"""

__version__ = "0.1.0"
KUBE_VERSION = "v1.33.1"
