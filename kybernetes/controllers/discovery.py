"""Discovery for controllers that must cover every resource (garbage collector): what is served, with which kind.

Only each group's preferred version is used (one object, one informer); subresources are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from kybernetes.client.rest import ApiError, Client


@dataclass(frozen=True)
class APIResource:
    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


async def discover(client: Client) -> list[APIResource]:
    out: list[APIResource] = []
    core = await client.get("/api/v1")
    out.extend(_resources("", "v1", core))
    groups = await client.get("/apis")
    for g in groups.get("groups") or []:
        pv = (g.get("preferredVersion") or {}).get("groupVersion") or ""
        if not pv:
            continue
        try:
            rl = await client.get(f"/apis/{pv}")
        except ApiError:
            continue
        group, _, version = pv.partition("/")
        out.extend(_resources(group, version, rl))
    return out


def _resources(group: str, version: str, rl: dict[str, object]) -> list[APIResource]:
    res: list[APIResource] = []
    for r in rl.get("resources") or []:  # type: ignore[attr-defined]
        name = r.get("name", "")
        if not name or "/" in name:
            continue
        res.append(
            APIResource(group, version, name, r.get("kind", ""), bool(r.get("namespaced")), frozenset(r.get("verbs") or []))
        )
    return res
