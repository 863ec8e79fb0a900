"""The CRD controller inside the API server: serve what CustomResourceDefinitions declare, and clean up after them.

Like upstream's apiextensions-apiserver it runs in the API server process and watches CRDs (through the watch
cache, so a new definition is acted on within milliseconds of its write). For each definition it settles the names
(conflicts with other CRDs of the group give NamesAccepted=False), records NamesAccepted/Established and
acceptedNames in the status, registers one resource per served version (discovery follows the registry) and
publishes the OpenAPI documents. Deleting a CRD first gets the `customresourcecleanup.apiextensions.k8s.io`
finalizer (added by the admission hook in `hooks`); this controller then deletes every custom resource, removes the
finalizer, and unregisters the resources once the CRD is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kybernetes.api.resources import ResourceInfo, served_group_versions
from kybernetes.apiserver.crd import openapi as crd_openapi
from kybernetes.apiserver.crd.definition import GROUP
from kybernetes.apiserver.crd.model import CRDModel
from kybernetes.machinery.errors import StatusError
from kybernetes.machinery.meta import now_rfc3339
from kybernetes.machinery.selectors import parse_field_selector, parse_label_selector

if TYPE_CHECKING:
    from kybernetes.apiserver.server import APIServer

log = logging.getLogger(__name__)

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
RESOURCE = "customresourcedefinitions"


def condition(crd: dict[str, Any], typ: str) -> dict[str, Any] | None:
    for c in (crd.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == typ:
            return c
    return None


def _set_condition(status: dict[str, Any], typ: str, value: str, reason: str, message: str) -> None:
    conds = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    for c in conds:
        if c.get("type") == typ:
            if c.get("status") != value:
                c["lastTransitionTime"] = now_rfc3339()
            c.update({"status": value, "reason": reason, "message": message})
            break
    else:
        conds.append({"type": typ, "status": value, "lastTransitionTime": now_rfc3339(), "reason": reason, "message": message})
    status["conditions"] = conds


class CRDController:
    """Keeps the served custom resources equal to the accepted CRDs."""

    def __init__(self, api: APIServer) -> None:
        self.api = api
        info = api.resources.get(GROUP, "v1", RESOURCE)
        assert info is not None, "apiextensions.k8s.io/v1 customresourcedefinitions must be a built-in resource"
        self.crd_info: ResourceInfo = info
        self.models: dict[str, CRDModel] = {}
        self.by_resource: dict[tuple[str, str], CRDModel] = {}
        self._crds: dict[str, dict[str, Any]] = {}
        self._v2_keys: tuple[set[str], set[str]] = (set(), set())
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Serve every stored CRD before the server reports ready, then follow changes."""
        cache = self.api.cache.cache(self.crd_info.key_prefix)
        for o in list(cache.objects.values()):
            await self._reconcile(o.decode())
        self._task = asyncio.create_task(self._run(), name="crd-controller")
        self.api._background.append(self._task)

    async def stop(self) -> None:
        for t in [self._task, *self._cleanups.values()]:
            if t is not None:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _run(self) -> None:
        everything_l, everything_f = parse_label_selector(None), parse_field_selector(None)
        while True:
            watcher, initial, _ = self.api.store.watch(self.crd_info, "", everything_l, everything_f, "0")
            try:
                present = set()
                for _, o in initial or []:
                    present.add(o.name)
                    await self._handle("ADDED", o.decode())
                for name in [n for n in self._crds if n not in present]:
                    self._forget(name)
                while True:
                    batch = await watcher.next_batch(None)
                    if batch is None:
                        break  # closed (overflow or relist): start over from a fresh list
                    for typ, o in batch:
                        await self._handle(typ, o.decode())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("CRD controller failed; restarting its watch")
                await asyncio.sleep(0.5)
            finally:
                self.api.store.unwatch(self.crd_info, watcher)

    async def _handle(self, typ: str, crd: dict[str, Any]) -> None:
        try:
            if typ == "DELETED":
                self._forget((crd.get("metadata") or {}).get("name", ""))
            else:
                await self._reconcile(crd)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reconciling CRD %s", (crd.get("metadata") or {}).get("name"))

    # ------------------------------------------------------------------------------------ reconcile
    async def _reconcile(self, crd: dict[str, Any]) -> None:
        meta = crd.get("metadata") or {}
        name = str(meta.get("name") or "")
        self._crds[name] = crd
        if meta.get("deletionTimestamp"):
            model = self.models.get(name)
            if model is not None:
                model.terminating = True
            if CLEANUP_FINALIZER in (meta.get("finalizers") or []) and name not in self._cleanups:
                task = asyncio.create_task(self._cleanup(name), name=f"crd-cleanup-{name}")
                self._cleanups[name] = task
                task.add_done_callback(self._cleanup_done(name))
            return
        accepted, status = self._desired_status(crd)
        if accepted:
            self._serve(CRDModel.from_crd(crd, status["acceptedNames"]))
        if _comparable(status) != _comparable(crd.get("status") or {}):
            await self._write_status(name, status)

    def _used_names(self, crd: dict[str, Any]) -> tuple[set[str], set[str]]:
        """Names and kinds other CRDs of the same group already hold (their accepted names)."""
        group = (crd.get("spec") or {}).get("group")
        me = (crd.get("metadata") or {}).get("name")
        resources: set[str] = set()
        kinds: set[str] = set()
        for other_name, other in self._crds.items():
            if other_name == me or (other.get("spec") or {}).get("group") != group:
                continue
            acc = (other.get("status") or {}).get("acceptedNames") or {}
            resources.update(x for x in [acc.get("plural"), acc.get("singular"), *(acc.get("shortNames") or [])] if x)
            kinds.update(x for x in [acc.get("kind"), acc.get("listKind")] if x)
        return resources, kinds

    def _desired_status(self, crd: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Upstream's naming and establishing controllers in one step: (names all accepted, new status)."""
        spec_names = (crd.get("spec") or {}).get("names") or {}
        status: dict[str, Any] = copy.deepcopy(crd.get("status") or {})
        accepted = dict(status.get("acceptedNames") or {})
        resources, kinds = self._used_names(crd)
        problem: tuple[str, str] | None = None

        def take(key: str, used: set[str], reason: str) -> None:
            nonlocal problem
            want = spec_names.get(key, "")
            if want == accepted.get(key) or want not in used:
                if want:
                    accepted[key] = want
            else:
                problem = (reason, f'"{want}" is already in use')

        take("plural", resources, "PluralConflict")
        take("singular", resources, "SingularConflict")
        shorts = list(spec_names.get("shortNames") or [])
        if shorts != list(accepted.get("shortNames") or []):
            mine = set(accepted.get("shortNames") or [])
            clashes = [f'"{s}" is already in use' for s in shorts if s not in mine and s in resources]
            if clashes:
                problem = ("ShortNamesConflict", ", ".join(clashes) if len(clashes) == 1 else "[" + ", ".join(clashes) + "]")
            elif shorts:
                accepted["shortNames"] = shorts
            else:
                accepted.pop("shortNames", None)
        take("kind", kinds, "KindConflict")
        take("listKind", kinds, "ListKindConflict")
        if spec_names.get("categories"):
            accepted["categories"] = list(spec_names["categories"])
        else:
            accepted.pop("categories", None)
        status["acceptedNames"] = accepted
        if problem is None:
            _set_condition(status, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
            _set_condition(status, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted")
        else:
            _set_condition(status, "NamesAccepted", "False", problem[0], problem[1])
            if condition({"status": status}, "Established") is None:
                _set_condition(status, "Established", "False", "NotAccepted", "not all names are accepted")
        stored = status.get("storedVersions") or []
        for v in (crd.get("spec") or {}).get("versions") or []:
            if v.get("storage") and v.get("name") not in stored:
                stored = [*stored, v["name"]]
        status["storedVersions"] = stored
        return problem is None, status

    def _cleanup_done(self, name: str) -> Callable[[asyncio.Task[None]], None]:
        def done(_task: asyncio.Task[None]) -> None:
            self._cleanups.pop(name, None)

        return done

    async def _write_status(self, name: str, status: dict[str, Any]) -> None:
        def mutate(cur: dict[str, Any]) -> dict[str, Any]:
            if (cur.get("metadata") or {}).get("deletionTimestamp"):
                return cur
            cur["status"] = status
            return cur

        try:
            await self.api.store.guaranteed_update(self.crd_info, "", name, mutate, subresource="status")
        except StatusError as e:
            if e.code != 404:
                log.warning("updating status of CRD %s: %s", name, e.message)

    # --------------------------------------------------------------------------------------- serving
    def _serve(self, model: CRDModel) -> None:
        if any(r.group == model.group and r.resource == model.plural and not r.custom for r in self.api.resources.all()):
            log.warning("CRD %s is shadowed by a built-in resource; not serving it", model.name)
            return
        old = self.models.get(model.name)
        if old is not None and old.signature() == model.signature():
            old.terminating = model.terminating
            return
        gvs = {(model.group, v.name) for v in model.served_versions()}
        if old is not None:
            gvs |= {(old.group, v.name) for v in old.served_versions()}
            self.by_resource.pop((old.group, old.plural), None)
            self.api.resources.remove(old.group, old.plural)
        self.models[model.name] = model
        self.by_resource[(model.group, model.plural)] = model
        self.api.resources.add(model.infos())
        self._publish(gvs)

    def _forget(self, name: str) -> None:
        self._crds.pop(name, None)
        task = self._cleanups.pop(name, None)
        if task is not None:
            task.cancel()
        model = self.models.pop(name, None)
        if model is None:
            return
        self.by_resource.pop((model.group, model.plural), None)
        self.api.resources.remove(model.group, model.plural)
        self._publish({(model.group, v.name) for v in model.versions.values()})

    def _publish(self, gvs: set[tuple[str, str]]) -> None:
        """Refresh the OpenAPI v3 documents of the given group-versions and the v2 additions."""
        oa = self.api.openapi
        defs, paths = crd_openapi.v2_additions(self.models.values())
        old_defs, old_paths = self._v2_keys
        for k in old_defs - set(defs):
            oa.v2_extra_definitions.pop(k, None)
        for k in old_paths - set(paths):
            oa.v2_extra_paths.pop(k, None)
        oa.v2_extra_definitions.update(defs)
        oa.v2_extra_paths.update(paths)
        self._v2_keys = (set(defs), set(paths))
        builtin_gvs = set(served_group_versions())
        for group, version in gvs:
            served = any(
                m.group == group and version in m.versions and m.versions[version].served for m in self.models.values()
            )
            path = f"apis/{group}/{version}"
            if (group, version) in builtin_gvs:
                continue  # a built-in document: custom resources in built-in group-versions are left out of v3
            if served:
                oa.set_v3_extra(path, self._v3_builder(group, version))
            else:
                oa.set_v3_extra(path, None)

    def _v3_builder(self, group: str, version: str) -> Callable[[], bytes]:
        return lambda: crd_openapi.v3_document(list(self.models.values()), group, version)

    # -------------------------------------------------------------------------------------- deletion
    async def _cleanup(self, name: str) -> None:
        """Delete every custom resource of a terminating CRD, then release the CRD."""
        try:
            await self._set_terminating(name, "InstanceDeletionInProgress", "CustomResource deletion is in progress")
            model = self.models.get(name)
            if model is not None:
                await self._delete_all(model)
            await self._set_terminating(name, "InstanceDeletionCompleted", "removed all instances")

            def release(cur: dict[str, Any]) -> dict[str, Any]:
                meta = cur.setdefault("metadata", {})
                meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != CLEANUP_FINALIZER]
                if not meta["finalizers"]:
                    meta.pop("finalizers")
                return cur

            await self.api.store.guaranteed_update(self.crd_info, "", name, release)
        except asyncio.CancelledError:
            raise
        except StatusError as e:
            if e.code != 404:
                log.warning("cleaning up CRD %s: %s", name, e.message)
        except Exception:
            log.exception("cleaning up CRD %s", name)

    async def _set_terminating(self, name: str, reason: str, message: str) -> None:
        def mutate(cur: dict[str, Any]) -> dict[str, Any]:
            status = cur.setdefault("status", {})
            _set_condition(status, "Terminating", "True", reason, message)
            return cur

        await self.api.store.guaranteed_update(self.crd_info, "", name, mutate, subresource="status")

    async def _delete_all(self, model: CRDModel) -> None:
        infos = model.infos()
        if not infos:
            return
        sinfo = self.storage_info(infos[0])
        cache = self.api.cache
        delay = 0.05
        while True:
            await cache.wait_fresh()
            left = list(cache.cache(sinfo.key_prefix).iter_prefix(sinfo.key_prefix))
            if not left:
                return
            for o in left:
                if b'"deletionTimestamp"' in o.raw:
                    continue
                with contextlib.suppress(StatusError):
                    await self.api.store.delete(sinfo, o.namespace, o.name, {})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    # ------------------------------------------------------------------------------- request helpers
    def model_for(self, info: ResourceInfo) -> CRDModel | None:
        return self.by_resource.get((info.group, info.resource))

    def storage_info(self, info: ResourceInfo) -> ResourceInfo:
        model = self.model_for(info)
        if model is None or info.version == model.storage_version:
            return info
        return self.api.resources.get(info.group, model.storage_version, info.resource) or info


def _comparable(status: dict[str, Any]) -> Any:
    """A status without transition times, to tell whether a write would change anything."""
    s = dict(status)
    s["conditions"] = sorted(
        ({k: v for k, v in c.items() if k != "lastTransitionTime"} for c in s.get("conditions") or []),
        key=lambda c: str(c.get("type")),
    )
    return s
