"""Write a volume's files so readers never see a half-updated set: upstream's AtomicWriter.

The files live in a timestamped directory `..2024_01_01_00_00_00.123456`; `..data` is a symlink to it and every
user-visible name is a symlink through `..data`. An update writes a new timestamped directory, swaps `..data` with
one rename(2), then removes the old directory and any names no longer in the payload. Applications that watch
the directory (or re-read the files) see either the old set or the new one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

DATA = "..data"
DATA_TMP = "..data_tmp"


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = 0o644


def _current(target: Path) -> dict[str, FileProjection] | None:
    data_dir = target / DATA
    if not data_dir.is_symlink():
        return None
    base = target / os.readlink(data_dir)
    out: dict[str, FileProjection] = {}
    for root, _, files in os.walk(base):
        for f in files:
            p = Path(root) / f
            try:
                out[str(p.relative_to(base))] = FileProjection(p.read_bytes(), p.stat().st_mode & 0o7777)
            except OSError:
                return None
    return out


def write_atomic(target: Path, payload: dict[str, FileProjection]) -> bool:
    """Make `target` hold exactly `payload` (relative path -> content). Returns whether anything changed."""
    for rel in payload:
        if rel.startswith("/") or ".." in Path(rel).parts or rel.startswith(".."):
            raise ValueError(f"invalid path {rel!r} in volume payload")
    target.mkdir(parents=True, exist_ok=True)
    if _current(target) == payload:
        return False
    old = os.readlink(target / DATA) if (target / DATA).is_symlink() else None
    ts = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + secrets.token_hex(4)
    tsdir = target / ts
    tsdir.mkdir(mode=0o755)
    for rel, proj in payload.items():
        p = tsdir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            f.write(proj.data)
        os.chmod(p, proj.mode)
    tmp_link = target / DATA_TMP
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    os.symlink(ts, tmp_link)
    os.replace(tmp_link, target / DATA)
    top = {Path(rel).parts[0] for rel in payload}
    for name in top:
        link = target / name
        if not link.is_symlink():
            if link.exists():
                shutil.rmtree(link) if link.is_dir() else link.unlink()
            os.symlink(os.path.join(DATA, name), link)
    for entry in os.listdir(target):
        if entry.startswith(".."):
            continue
        if entry not in top and (target / entry).is_symlink():
            (target / entry).unlink()
    if old:
        shutil.rmtree(target / old, ignore_errors=True)
    return True
