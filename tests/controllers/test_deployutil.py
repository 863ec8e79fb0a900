"""Deployment arithmetic: upstream's rounding, hashes, revisions and proportional scaling."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.controllers import deployutil as du


def dep(replicas: int, surge: Any = None, unavailable: Any = None, kind: str = "RollingUpdate") -> dict[str, Any]:
    ru: dict[str, Any] = {}
    if surge is not None:
        ru["maxSurge"] = surge
    if unavailable is not None:
        ru["maxUnavailable"] = unavailable
    return {"spec": {"replicas": replicas, "strategy": {"type": kind, "rollingUpdate": ru}}}


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "want"),
    [
        (10, None, None, (3, 2)),  # 25% rounds surge up, unavailable down
        (1, None, None, (1, 0)),
        (4, "50%", "50%", (2, 2)),
        (3, "0%", "0%", (0, 1)),  # both zero would never progress
        (5, 0, 0, (0, 1)),
        (7, 2, "10%", (2, 0)),
    ],
)
def test_fenceposts(replicas: int, surge: Any, unavailable: Any, want: tuple[int, int]) -> None:
    assert du.fenceposts(dep(replicas, surge, unavailable)) == want


def test_max_unavailable_is_capped_and_zero_for_recreate() -> None:
    assert du.max_unavailable(dep(2, 0, 5)) == 2
    assert du.max_unavailable(dep(0)) == 0
    assert du.max_surge(dep(10, kind="Recreate")) == 0


def test_hash_ignores_the_hash_label_and_omitted_zero_values_but_not_changes() -> None:
    t1 = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    t2 = {
        "metadata": {"labels": {"app": "web", du.HASH_LABEL: "abc"}, "creationTimestamp": None},
        "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {}}], "hostNetwork": False},
    }
    t3 = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    assert du.equal_ignore_hash(t1, t2)
    assert du.template_hash(t1) == du.template_hash(t2)
    assert du.template_hash(t1) != du.template_hash(t3)
    assert du.template_hash(t1, 1) != du.template_hash(t1)
    h = du.template_hash(t1)
    assert h and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_fnv32a_matches_the_reference_vectors() -> None:
    assert du.fnv32a(b"") == 0x811C9DC5
    assert du.fnv32a(b"a") == 0xE40C292C
    assert du.fnv32a(b"foobar") == 0xBF9CF968


def test_new_rs_annotations_bump_revision_and_keep_history() -> None:
    d = {"metadata": {"annotations": {"kubernetes.io/change-cause": "v2", du.REVISION: "9"}}, **dep(4)}
    rs: dict[str, Any] = {"metadata": {"annotations": {du.REVISION: "1"}}}
    assert du.set_new_rs_annotations(d, rs, 3, exists=True)
    ann = rs["metadata"]["annotations"]
    assert ann[du.REVISION] == "3" and ann[du.REVISION_HISTORY] == "1" and ann["kubernetes.io/change-cause"] == "v2"
    fresh: dict[str, Any] = {"metadata": {}}
    du.set_new_rs_annotations(d, fresh, 1, exists=False)
    assert fresh["metadata"]["annotations"][du.DESIRED_REPLICAS] == "4"
    assert fresh["metadata"]["annotations"][du.MAX_REPLICAS] == "5"


def rs(replicas: int, available: int = 0, status_replicas: int | None = None, max_replicas: int | None = None) -> dict[str, Any]:
    ann = {} if max_replicas is None else {du.MAX_REPLICAS: str(max_replicas)}
    return {
        "metadata": {"annotations": ann},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas if status_replicas is None else status_replicas, "availableReplicas": available},
    }


def test_new_replicas_stay_within_surge_counting_pods_not_yet_gone() -> None:
    d = dep(10)  # surge 3
    old, new = rs(8, 8, status_replicas=10), rs(3)
    # The old set was scaled to 8 but still has 10 pods: no room yet.
    assert du.new_rs_new_replicas(d, [old, new], new) == 3
    old["status"]["replicas"] = 8
    assert du.new_rs_new_replicas(d, [old, new], new) == 5


def test_available_counts_only_what_stays() -> None:
    assert du.available_total([rs(6, available=10), rs(4, available=4)]) == 10


def test_proportional_scaling_fraction_rounds_half_away_from_zero() -> None:
    d = dep(15)  # was 10 (+3 surge = 13 annotated); now 15 (+4 = 19)
    a = rs(8, max_replicas=13)
    assert du.rs_fraction(a, d) == round(8 * 19 / 13) - 8
    assert du.proportion(a, d, 6, 0) == min(du.rs_fraction(a, d), 6)
    assert du.proportion(a, d, -6, 0) == max(du.rs_fraction(a, d), -6)


def test_conditions_keep_transition_time_on_same_status() -> None:
    st: dict[str, Any] = {}
    first = du.new_condition("Progressing", "True", du.RS_UPDATED, "x")
    first["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    du.set_condition(st, first)
    du.set_condition(st, du.new_condition("Progressing", "True", du.NEW_RS_AVAILABLE, "y"))
    c = du.get_condition(st, "Progressing")
    assert c is not None and c["reason"] == du.NEW_RS_AVAILABLE and c["lastTransitionTime"] == "2020-01-01T00:00:00Z"


def test_timed_out_uses_last_update_time() -> None:
    d = {"metadata": {"generation": 1}, "spec": {"replicas": 1, "progressDeadlineSeconds": 10}}
    st = {"conditions": [{"type": "Progressing", "status": "True", "reason": du.RS_UPDATED, "lastUpdateTime": "2020-01-01T00:00:00Z"}]}
    t0 = du.ts("2020-01-01T00:00:00Z")
    assert not du.deployment_timed_out(d, st, t0 + 5)
    assert du.deployment_timed_out(d, st, t0 + 11)
