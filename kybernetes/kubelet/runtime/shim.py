"""The per-container shim: the parent of one container process, its logger and the keeper of its exit code.

Why a separate process: a container must outlive a kubelet restart, and something must keep reading its stdout and
stderr into the CRI log file and record how it ended. Like containerd-shim or conmon, this small process (started
with `python -I -S`, stdlib only, so it starts in ~15 ms and imports nothing from the kybernetes package) does that:

- `run CONFIG`: join the pod's namespaces and the container's cgroups, start the command in its own session (and its
  own pid and mount namespaces as root), print `- pid N shim M` once it has exec'd (or `- error MESSAGE`), copy its
  output into the CRI log, then write `{"exit_code", "signal", "finished_at"}` to the exit file and end.
- `zygote [OWNER]`: read `REQID CONFIG` lines on stdin and fork a `run` shim for each (answering `REQID pid N shim M`), so a
  container start costs a fork instead of an interpreter start and its imports (~20 ms idle, much more under load).
  The zygote ends when its stdin closes (the kubelet is gone); the shims it forked live on in their own sessions.
- `exec HEX`: enter the namespaces and cgroups of a running container and run a command there with the inherited
  stdio, ending with its exit code (used for `kubectl exec` and exec probes/hooks).

Configs are `marshal`led dicts (the kubelet runs the same interpreter): no json/re import on the hot path. Python
3.11 lacks os.setns/os.unshare, hence the few ctypes calls.
"""

from __future__ import annotations

import contextlib
import ctypes
import marshal
import os
import select
import signal
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
MAX_LINE = 16 * 1024
NS_FLAGS = {"net": CLONE_NEWNET, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC, "pid": CLONE_NEWPID, "mnt": CLONE_NEWNS}

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def setns(path: str, nstype: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, nstype), f"setns {path}")
    finally:
        os.close(fd)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    _check(_libc.mount(enc(src), enc(dst), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {dst}")


def _ts() -> bytes:
    ns = time.time_ns()
    sec, frac = divmod(ns, 1_000_000_000)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z").encode()


class LogWriter:
    """CRI log lines: `<RFC3339Nano> <stream> <F|P> <text>`, one os.write per batch."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending: dict[bytes, bytes] = {}

    def write(self, stream: bytes, data: bytes) -> None:
        buf = self.pending.pop(stream, b"") + data
        ts = _ts()
        out: list[bytes] = []
        while True:
            nl = buf.find(b"\n")
            if nl < 0 or nl > MAX_LINE:
                if len(buf) > MAX_LINE:
                    out.append(b"%s %s P %s\n" % (ts, stream, buf[:MAX_LINE]))
                    buf = buf[MAX_LINE:]
                    continue
                break
            line = buf[:nl]
            if line.endswith(b"\r"):
                line = line[:-1]
            out.append(b"%s %s F %s\n" % (ts, stream, line))
            buf = buf[nl + 1 :]
        if buf:
            self.pending[stream] = buf
        if out:
            self._write(b"".join(out))

    def flush(self) -> None:
        ts = _ts()
        for stream, rest in list(self.pending.items()):
            if rest:
                self._write(b"%s %s F %s\n" % (ts, stream, rest))
        self.pending.clear()

    def _write(self, data: bytes) -> None:
        try:
            os.write(self.fd, data)
        except OSError:
            pass  # a full disk must not kill the container's logger


def _json_str(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _write_exit(path: str, exit_code: int, sig: int = 0, start_error: str | None = None) -> None:
    """The exit file, as JSON (written by hand: importing json costs more than the rest of the shim)."""
    body = f'{{"exit_code": {exit_code}, "signal": {sig}, "finished_at": {time.time_ns()}'
    if start_error is not None:
        body += f', "start_error": {_json_str(start_error)}'
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(body + "}")
    os.replace(tmp, path)


def _report(reqid: str, line: str) -> None:
    """One line to whoever waits for this start (the kubelet directly, or through the zygote's pipe)."""
    try:
        os.write(1, f"{reqid} {line}\n".encode(errors="replace"))
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass


def _enter_namespaces(cfg: dict[str, object]) -> None:
    """In the child: cgroups, pod namespaces, a private mount namespace with the volumes, then the identity."""
    for procs in cfg.get("cgroups") or []:  # type: ignore[attr-defined]
        with open(str(procs), "w") as f:
            f.write("0")
    for kind in ("net", "uts", "ipc"):
        path = cfg.get(f"{kind}ns")
        if path:
            setns(str(path), NS_FLAGS[kind])
    if cfg.get("new_mount_ns"):
        unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        for m in cfg.get("mounts") or []:  # type: ignore[attr-defined]
            dst = str(m["dst"])
            if m.get("tmpfs"):
                mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, str(m.get("options") or "") or None)
            else:
                mount(str(m["src"]), dst, None, MS_BIND | MS_REC)
            if m.get("ro"):
                mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        for path in cfg.get("detach") or []:  # type: ignore[attr-defined]
            # Whole subtrees (all netns files, all pod volumes) in one umount each: every umount waits for an
            # RCU grace period, so one per pod would make starts slower as the node fills up.
            _libc.umount2(str(path).encode(), 2)
        _detach_foreign_mounts({str(m["dst"]) for m in cfg.get("mounts") or []})  # type: ignore[attr-defined]
        if cfg.get("mount_proc"):
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _detach_foreign_mounts(keep: set[str]) -> None:
    """Drop this mount namespace's copies of other pods' namespace files and volume mounts.

    The container's mount namespace starts as a copy of the host's, including every pod's /run/netns bind mount and
    every tmpfs volume. Kept, those copies would hold other pods' network namespaces (veth, IP) and memory alive
    after those pods are gone. (A container runtime gets this for free by pivoting into an image rootfs.)
    """
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        lines = f.read().splitlines()
    for line in reversed(lines):
        pre, _, post = line.partition(" - ")
        fields = pre.split()
        if len(fields) < 5 or not post:
            continue
        target = fields[4].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
        fstype = post.split()[0]
        if target in keep:
            continue
        if fstype == "nsfs" or "/volumes/kubernetes.io~" in target:
            try:
                _check(_libc.umount2(target.encode(), 2), f"umount {target}")
            except OSError:
                pass


def _identity_and_exec(cfg: dict[str, object]) -> None:
    gid = cfg.get("gid")
    uid = cfg.get("uid")
    if gid is not None or uid is not None:
        os.setgroups([int(g) for g in cfg.get("groups") or []])  # type: ignore[attr-defined]
    if gid is not None:
        os.setgid(int(gid))  # type: ignore[call-overload]
    if uid is not None:
        os.setuid(int(uid))  # type: ignore[call-overload]
    cwd = cfg.get("cwd")
    if cwd:
        os.chdir(str(cwd))
    argv = [str(a) for a in cfg["argv"]]  # type: ignore[attr-defined]
    env = {str(k): str(v) for k, v in cfg.get("env") or []}  # type: ignore[attr-defined]
    os.execvpe(argv[0], argv, env)


def _child(cfg: dict[str, object], errw: int, stdio: tuple[int, int, int], tty: int | None) -> None:
    try:
        if tty is not None:
            os.login_tty(tty)
        else:
            os.setsid()
            for i, fd in enumerate(stdio):
                os.dup2(fd, i)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        _enter_namespaces(cfg)
        os.closerange(3, errw)
        os.closerange(errw + 1, 65536)
        _identity_and_exec(cfg)
    except BaseException as e:  # report anything to the shim, never return into its code
        msg = str(e)
        if isinstance(e, FileNotFoundError) and cfg.get("argv"):
            msg = f'exec: "{cfg["argv"][0]}": executable file not found in $PATH'  # type: ignore[index]
        elif isinstance(e, PermissionError) and cfg.get("argv"):
            msg = f'exec: "{cfg["argv"][0]}": permission denied'  # type: ignore[index]
        try:
            os.write(errw, msg.encode() or b"error")
        finally:
            os._exit(127)


def _set_winsize(fd: int, width: int, height: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def run(config_path: str, reqid: str = "-") -> int:
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(s, signal.SIG_IGN)
    try:
        with open(config_path, "rb") as f:
            cfg = marshal.load(f)
    except (OSError, ValueError, EOFError) as e:
        _report(reqid, "error " + f"cannot read {config_path}: {e}".replace("\n", " "))
        return 1
    logfd = os.open(cfg["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
    log = LogWriter(logfd)
    tty = bool(cfg.get("tty"))
    devnull = os.open(os.devnull, os.O_RDWR)
    master = slave = -1
    in_w = -1
    if tty:
        master, slave = os.openpty()
        stdio = (slave, slave, slave)
        outs = {master: b"stdout"}
    else:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r = devnull
        if cfg.get("stdin"):
            in_r, in_w = os.pipe()
        stdio = (in_r, out_w, err_w)
        outs = {out_r: b"stdout", err_r: b"stderr"}
    errr, errw = os.pipe2(os.O_CLOEXEC)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    if cfg.get("new_pid_ns"):
        unshare(CLONE_NEWPID)
    pid = os.fork()
    if pid == 0:
        _child(cfg, errw, stdio, slave if tty else None)
    os.close(errw)
    for fd in set(stdio):
        if fd != devnull:
            os.close(fd)
    err = b""
    while True:
        try:
            chunk = os.read(errr, 4096)
        except InterruptedError:
            continue
        if not chunk:
            break
        err += chunk
    os.close(errr)
    if err:
        os.waitpid(pid, 0)
        msg = err.decode(errors="replace")
        _write_exit(cfg["exit"], 128, start_error=msg)
        _report(reqid, "error " + msg.replace("\n", " "))
        return 0
    _report(reqid, f"pid {pid} shim {os.getpid()}")
    if tty and cfg.get("width"):
        _set_winsize(master, int(cfg["width"]), int(cfg["height"]))
    stdin_fifo = cfg.get("stdin_fifo")
    resize_fifo = cfg.get("resize_fifo") if tty else None
    fifo_fd = _open_fifo(stdin_fifo) if stdin_fifo and cfg.get("stdin") else -1
    resize_fd = _open_fifo(resize_fifo) if resize_fifo else -1
    status = _pump(pid, log, outs, wake_r, fifo_fd, resize_fd, in_w if not tty else master, master,
                   bool(cfg.get("stdin_once")), stdin_fifo, resize_fifo)
    log.flush()
    code = os.waitstatus_to_exitcode(status)
    sig = -code if code < 0 else 0
    _write_exit(cfg["exit"], 128 + sig if sig else code, sig)
    return 0


def zygote() -> int:
    """Fork a `run` shim per request line until stdin closes; reap the shims that end meanwhile."""

    def reap(*_: object) -> None:
        while True:
            try:
                pid, _st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    signal.signal(signal.SIGCHLD, reap)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    stdin = sys.stdin.buffer
    while True:
        try:
            line = stdin.readline()
        except InterruptedError:
            continue
        if not line:
            return 0
        parts = line.decode(errors="replace").split()
        if len(parts) != 2:
            continue
        reqid, path = parts
        try:
            pid = os.fork()
        except OSError as e:
            _write_line(f"{reqid} error fork: {e}")
            continue
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.setsid()
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.close(devnull)
                code = run(path, reqid)
            finally:
                os._exit(code)


def _write_line(text: str) -> None:
    try:
        os.write(1, (text + "\n").encode(errors="replace"))
    except OSError:
        pass


def _open_fifo(path: str | None) -> int:
    if not path:
        return -1
    try:
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return -1


def _pump(pid: int, log: LogWriter, outs: dict[int, bytes], wake_r: int, fifo_fd: int, resize_fd: int,
          in_w: int, master: int, stdin_once: bool, stdin_fifo: str | None, resize_fifo: str | None) -> int:
    """Copy output to the log and the stdin FIFO to the process until it exits; returns its wait status."""
    status: int | None = None
    drain_deadline = 0.0
    resize_buf = b""
    while True:
        fds = [*outs, wake_r]
        if fifo_fd >= 0:
            fds.append(fifo_fd)
        if resize_fd >= 0:
            fds.append(resize_fd)
        timeout = 1.0 if status is None else max(0.0, drain_deadline - time.monotonic())
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            ready = []
        for fd in ready:
            if fd == wake_r:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            elif fd in outs:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""  # a pty master gives EIO once the slave side is gone
                if data:
                    log.write(outs[fd], data)
                else:
                    os.close(fd)
                    del outs[fd]
            elif fd == fifo_fd:
                data = os.read(fd, 65536)
                if data:
                    if in_w >= 0:
                        try:
                            os.write(in_w, data)
                        except OSError:
                            pass
                else:
                    os.close(fifo_fd)
                    if stdin_once:
                        fifo_fd = -1
                        if in_w >= 0 and in_w != master:
                            os.close(in_w)
                            in_w = -1
                    else:
                        fifo_fd = _open_fifo(stdin_fifo)
            elif fd == resize_fd:
                data = os.read(fd, 4096)
                if not data:
                    os.close(resize_fd)
                    resize_fd = _open_fifo(resize_fifo)
                    continue
                resize_buf += data
                while b"\n" in resize_buf:
                    line, resize_buf = resize_buf.split(b"\n", 1)
                    try:
                        w, h = (int(x) for x in line.split())
                        _set_winsize(master, w, h)
                    except (ValueError, OSError):
                        pass
        if status is None:
            try:
                wpid, st = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                wpid, st = pid, 0
            if wpid == pid:
                status = st
                # Descendants may still hold the pipes: give them a moment, never forever.
                drain_deadline = time.monotonic() + (0.05 if master >= 0 else 0.5)
        if status is not None and (not outs or time.monotonic() >= drain_deadline):
            for fd in outs:
                _drain(fd, outs[fd], log)
            return status


def _drain(fd: int, stream: bytes, log: LogWriter) -> None:
    os.set_blocking(fd, False)
    try:
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            log.write(stream, data)
    except OSError:
        pass


def exec_in(spec_hex: str) -> int:
    """Enter a running container (cgroups, namespaces) and run a command with the inherited stdio."""
    spec = marshal.loads(bytes.fromhex(spec_hex))
    for procs in spec.get("cgroups") or []:
        try:
            with open(procs, "w") as f:
                f.write("0")
        except OSError:
            pass
    target = spec.get("pid")
    fds: list[tuple[int, int]] = []
    if target:
        for kind in ("ipc", "uts", "net", "pid", "mnt"):
            path = f"/proc/{target}/ns/{kind}"
            if os.readlink(path) != os.readlink(f"/proc/self/ns/{kind}"):
                fds.append((os.open(path, os.O_RDONLY | os.O_CLOEXEC), NS_FLAGS[kind]))
    for fd, flag in fds:
        _check(_libc.setns(fd, flag), "setns")
        os.close(fd)
    tty = os.isatty(0)
    errr, errw = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if tty:
                # Stay in this session (it owns the terminal) as its foreground process group.
                os.setpgid(0, 0)
                signal.signal(signal.SIGTTOU, signal.SIG_IGN)
                with contextlib.suppress(OSError):
                    os.tcsetpgrp(0, os.getpid())
                signal.signal(signal.SIGTTOU, signal.SIG_DFL)
            os.closerange(3, errw)
            os.closerange(errw + 1, 65536)
            _identity_and_exec(spec)
        except BaseException as e:
            msg = str(e)
            if isinstance(e, FileNotFoundError):
                msg = f'exec: "{spec["argv"][0]}": executable file not found in $PATH'
            os.write(errw, msg.encode() or b"error")
            os._exit(127)
    os.close(errw)
    err = os.read(errr, 4096)
    if err:
        os.waitpid(pid, 0)
        sys.stderr.write("kyb-exec-error: " + err.decode(errors="replace") + "\n")
        return 126
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, lambda n, _f: os.kill(pid, n))
    while True:
        try:
            _, st = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    return os.waitstatus_to_exitcode(st) if os.waitstatus_to_exitcode(st) >= 0 else 128 - os.waitstatus_to_exitcode(st)


def main() -> int:
    if len(sys.argv) in (2, 3) and sys.argv[1] == "zygote":
        return zygote()
    if len(sys.argv) < 3:
        sys.stderr.write("usage: shim.py run CONFIG | zygote | exec HEX\n")
        return 2
    if sys.argv[1] == "run":
        return run(sys.argv[2])
    if sys.argv[1] == "exec":
        return exec_in(sys.argv[2])
    return 2


if __name__ == "__main__":
    sys.exit(main())
