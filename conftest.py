"""Shared pytest fixtures: a real etcd and a real `kyb server` (see tests/support)."""

pytest_plugins = ["tests.support.etcd", "tests.support.cluster"]
