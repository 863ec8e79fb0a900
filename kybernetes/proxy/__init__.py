"""The node's service proxy (nftables as root, userspace otherwise) and the built-in service load balancer."""
