"""Job bookkeeping: completed index intervals and pod failure policy rules."""

from __future__ import annotations

from typing import Any

from kybernetes.controllers.jobutil import format_indexes, match_failure_policy, parse_indexes


def test_indexes_round_trip() -> None:
    assert format_indexes({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"
    assert parse_indexes("0-2,4,6-7") == {0, 1, 2, 4, 6, 7}
    assert format_indexes(set()) == "" and parse_indexes("") == set()


def failed_pod(code: int, container: str = "main", conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns"},
        "status": {
            "phase": "Failed",
            "conditions": conditions or [],
            "containerStatuses": [{"name": container, "state": {"terminated": {"exitCode": code}}}],
        },
    }


def job(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"podFailurePolicy": {"rules": list(rules)}}}


def test_first_matching_rule_wins_and_zero_exit_codes_never_match() -> None:
    j = job(
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [42]}},
    )
    verdict = match_failure_policy(j, failed_pod(42))
    assert verdict is not None and verdict[0] == "FailJob"
    assert "failed with exit code 42 matching FailJob rule at index 1" in verdict[1]
    assert match_failure_policy(j, failed_pod(1)) is not None and match_failure_policy(j, failed_pod(1))[0] == "Count"  # type: ignore[index]
    assert match_failure_policy(j, failed_pod(0)) is None
    disrupted = failed_pod(42, conditions=[{"type": "DisruptionTarget", "status": "True"}])
    assert match_failure_policy(j, disrupted)[0] == "Ignore"  # type: ignore[index]
    assert match_failure_policy(j, failed_pod(42, container="side")) is None  # the FailJob rule names "main"
