"""Printers for batch (jobs, cronjobs), autoscaling (horizontal pod autoscalers) and policy (PDBs)."""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.printers._common import (
    AGE,
    CONTAINERS_WIDE,
    IMAGES_WIDE,
    NAME,
    Column,
    Context,
    JSONDict,
    Printer,
    Registry,
    creation_age,
    dicts,
    format_label_selector,
    gdict,
    get,
    gint,
    glist,
    go_bool_str,
    gstr,
    human_duration,
    is_deleting,
    layout_container_cells,
    name_of,
    parse_time,
    since,
)
from kybernetes.apiserver.printers._descriptions import doc
from kybernetes.apiserver.printers._quantity import canonical_quantity

JOB_COLUMNS = (
    NAME,
    Column("Status", "string", "Status of the job."),
    Column("Completions", "string", doc("JobStatus.succeeded")),
    Column("Duration", "string", "Time required to complete the job."),
    AGE,
    CONTAINERS_WIDE,
    IMAGES_WIDE,
    Column("Selector", "string", doc("JobSpec.selector"), priority=1),
)


def _job_condition(obj: JSONDict, ctype: str) -> bool:
    """hasJobCondition: the first condition of the type decides."""
    for c in dicts(glist(obj, "status", "conditions")):
        if gstr(c, "type") == ctype:
            return gstr(c, "status") == "True"
    return False


def job_status(obj: JSONDict) -> str:
    """Complete > Failed > Terminating > Suspended > FailureTarget > Running, as upstream orders them."""
    if _job_condition(obj, "Complete"):
        return "Complete"
    if _job_condition(obj, "Failed"):
        return "Failed"
    if is_deleting(obj):
        return "Terminating"
    if _job_condition(obj, "Suspended"):
        return "Suspended"
    if _job_condition(obj, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def job_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printJob: COMPLETIONS "s/c" (or "s/1 of p" for work queues), DURATION from start to completion/now."""
    succeeded = gint(obj, "status", "succeeded")
    completions_v = get(obj, "spec", "completions")
    if completions_v is not None:
        completions = f"{succeeded}/{gint(obj, 'spec', 'completions')}"
    else:
        parallelism_v = get(obj, "spec", "parallelism")
        parallelism = gint(obj, "spec", "parallelism") if parallelism_v is not None else 0
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start = parse_time(get(obj, "status", "startTime"))
    end = parse_time(get(obj, "status", "completionTime"))
    if start is None:
        duration = ""
    elif end is None:
        duration = human_duration(since(start, ctx.now))
    else:
        duration = human_duration(since(start, end))
    names, images = layout_container_cells(get(obj, "spec", "template", "spec", "containers"))
    return [
        name_of(obj),
        job_status(obj),
        completions,
        duration,
        creation_age(obj, ctx.now),
        names,
        images,
        format_label_selector(get(obj, "spec", "selector")),
    ]


CRON_JOB_COLUMNS = (
    NAME,
    Column("Schedule", "string", doc("CronJobSpec.schedule")),
    Column("Timezone", "string", doc("CronJobSpec.timeZone")),
    Column("Suspend", "boolean", doc("CronJobSpec.suspend")),
    Column("Active", "integer", doc("CronJobStatus.active")),
    Column("Last Schedule", "string", doc("CronJobStatus.lastScheduleTime")),
    AGE,
    CONTAINERS_WIDE,
    IMAGES_WIDE,
    Column("Selector", "string", doc("JobSpec.selector"), priority=1),
)


def cron_job_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printCronJob: SUSPEND is the string "True"/"False" even though the column says boolean (as upstream)."""
    last = get(obj, "status", "lastScheduleTime")
    tz = get(obj, "spec", "timeZone")
    job_spec = gdict(obj, "spec", "jobTemplate", "spec")
    names, images = layout_container_cells(get(job_spec, "template", "spec", "containers"))
    return [
        name_of(obj),
        gstr(obj, "spec", "schedule"),
        tz if isinstance(tz, str) else "<none>",
        go_bool_str(get(obj, "spec", "suspend")),
        len(glist(obj, "status", "active")),
        ctx.age(last) if last is not None else "<none>",
        creation_age(obj, ctx.now),
        names,
        images,
        format_label_selector(get(job_spec, "selector")),
    ]


# ---------------------------------------------------------------------------------------------
# horizontal pod autoscalers
# ---------------------------------------------------------------------------------------------

HPA_COLUMNS = (
    NAME,
    Column("Reference", "string", doc("HorizontalPodAutoscalerSpec.scaleTargetRef")),
    Column("Targets", "string", doc("HorizontalPodAutoscalerSpec.metrics")),
    Column("MinPods", "string", doc("HorizontalPodAutoscalerSpec.minReplicas")),
    Column("MaxPods", "string", doc("HorizontalPodAutoscalerSpec.maxReplicas")),
    Column("Replicas", "string", doc("HorizontalPodAutoscalerStatus.currentReplicas")),
    AGE,
)


def hpa_v1_to_v2(obj: JSONDict) -> JSONDict:
    """autoscaling/v1 carries only a CPU utilization target; express it as the v2 metric upstream converts to."""
    spec = gdict(obj, "spec")
    if "metrics" in spec or (
        "targetCPUUtilizationPercentage" not in spec
        and not get(obj, "status", "currentCPUUtilizationPercentage")
    ):
        return obj
    out = dict(obj)
    new_spec = {k: v for k, v in spec.items() if k != "targetCPUUtilizationPercentage"}
    target = spec.get("targetCPUUtilizationPercentage")
    if target is not None:
        new_spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
            }
        ]
    out["spec"] = new_spec
    status = gdict(obj, "status")
    current = status.get("currentCPUUtilizationPercentage")
    new_status = {k: v for k, v in status.items() if k != "currentCPUUtilizationPercentage"}
    if current is not None:
        new_status["currentMetrics"] = [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}
        ]
    out["status"] = new_status
    return out


def _qty(v: Any) -> str:
    """Quantity.String() of a possibly missing (nil pointer) quantity: "<nil>" like Go."""
    return canonical_quantity(v)


def _pct(v: Any) -> str:
    return f"{gint({'v': v}, 'v')}%"


def format_hpa_metrics(specs: list[Any], statuses: list[Any]) -> str:
    """formatHPAMetrics: "current/target" per metric (first two), "<unknown>" until the HPA reports."""
    specs_d = [s if isinstance(s, dict) else {} for s in specs]
    if not specs_d:
        return "<none>"
    out: list[str] = []
    limit = 2

    def status_of(i: int, key: str) -> JSONDict | None:
        if len(statuses) > i and isinstance(statuses[i], dict):
            v = statuses[i].get(key)
            return v if isinstance(v, dict) else None
        return None

    for i, spec in enumerate(specs_d):
        mtype = gstr(spec, "type")
        if mtype == "External":
            target = gdict(spec, "external", "target")
            st = status_of(i, "external")
            if target.get("averageValue") is not None:
                current = "<unknown>"
                if st is not None and get(st, "current", "averageValue") is not None:
                    current = _qty(get(st, "current", "averageValue"))
                out.append(f"{current}/{_qty(target.get('averageValue'))} (avg)")
            else:
                current = _qty(get(st, "current", "value")) if st is not None else "<unknown>"
                out.append(f"{current}/{_qty(target.get('value'))}")
        elif mtype == "Pods":
            st = status_of(i, "pods")
            current = _qty(get(st, "current", "averageValue")) if st is not None else "<unknown>"
            out.append(f"{current}/{_qty(get(spec, 'pods', 'target', 'averageValue'))}")
        elif mtype == "Object":
            target = gdict(spec, "object", "target")
            st = status_of(i, "object")
            if target.get("averageValue") is not None:
                current = "<unknown>"
                if st is not None and get(st, "current", "averageValue") is not None:
                    current = _qty(get(st, "current", "averageValue"))
                out.append(f"{current}/{_qty(target.get('averageValue'))} (avg)")
            else:
                current = _qty(get(st, "current", "value")) if st is not None else "<unknown>"
                out.append(f"{current}/{_qty(target.get('value'))}")
        elif mtype in ("Resource", "ContainerResource"):
            key = "resource" if mtype == "Resource" else "containerResource"
            source = gdict(spec, key)
            target = gdict(source, "target")
            st = status_of(i, key)
            rname = gstr(source, "name")
            if target.get("averageValue") is not None:
                current = _qty(get(st, "current", "averageValue")) if st is not None else "<unknown>"
                out.append(f"{rname}: {current}/{_qty(target.get('averageValue'))}")
            else:
                current = "<unknown>"
                if st is not None and get(st, "current", "averageUtilization") is not None:
                    current = _pct(get(st, "current", "averageUtilization"))
                tgt = "<auto>"
                if target.get("averageUtilization") is not None:
                    tgt = _pct(target.get("averageUtilization"))
                out.append(f"{rname}: {current}/{tgt}")
        else:
            out.append("<unknown type>")
    count = len(out)
    ret = ", ".join(out[:limit])
    if count > limit:
        return f"{ret} + {count - limit} more..."
    return ret


def hpa_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printHorizontalPodAutoscaler."""
    ref = gdict(obj, "spec", "scaleTargetRef")
    min_replicas = get(obj, "spec", "minReplicas")
    return [
        name_of(obj),
        f"{gstr(ref, 'kind')}/{gstr(ref, 'name')}",
        format_hpa_metrics(glist(obj, "spec", "metrics"), glist(obj, "status", "currentMetrics")),
        str(gint(obj, "spec", "minReplicas")) if min_replicas is not None else "<unset>",
        gint(obj, "spec", "maxReplicas"),
        gint(obj, "status", "currentReplicas"),
        creation_age(obj, ctx.now),
    ]


# ---------------------------------------------------------------------------------------------
# pod disruption budgets
# ---------------------------------------------------------------------------------------------

PDB_COLUMNS = (
    NAME,
    Column("Min Available", "string", "The minimum number of pods that must be available."),
    Column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    Column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
    AGE,
)


def _int_or_string(v: Any) -> str:
    """IntOrString.String(), "N/A" for an unset pointer."""
    if v is None:
        return "N/A"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int | float):
        return str(gint({"v": v}, "v"))
    return str(v)


def pdb_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printPodDisruptionBudget."""
    return [
        name_of(obj),
        _int_or_string(get(obj, "spec", "minAvailable")),
        _int_or_string(get(obj, "spec", "maxUnavailable")),
        gint(obj, "status", "disruptionsAllowed"),
        creation_age(obj, ctx.now),
    ]


PRINTERS: Registry = {
    ("batch", "jobs"): Printer(JOB_COLUMNS, job_row),
    ("batch", "cronjobs"): Printer(CRON_JOB_COLUMNS, cron_job_row),
    ("autoscaling", "horizontalpodautoscalers"): Printer(HPA_COLUMNS, hpa_row, prepare=hpa_v1_to_v2),
    ("policy", "poddisruptionbudgets"): Printer(PDB_COLUMNS, pdb_row),
}
