"""The kube-scheduler, as a pure API client: informers in, bindings out (see scheduler.py).

Layout: podinfo/nodeinfo/cache hold parsed pods and per-node totals; queue orders and backs off pending pods;
framework and plugins/ are upstream's plugin framework and default plugins; algorithm makes one decision;
table keeps numpy columns for the hot filters and scores; events reports what happened.
"""
