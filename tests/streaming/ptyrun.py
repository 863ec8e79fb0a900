"""Run a command on a pseudo-terminal, as a user at a terminal would: for `kubectl exec -it` / `run -it` tests."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence


def run_in_pty(cmd: Sequence[str], env: dict[str, str], *, script: Sequence[tuple[str, str]] = (),
               cols: int = 80, rows: int = 24, timeout: float = 60.0, settle: float = 0.0) -> tuple[int, str]:
    """Run `cmd` with a terminal of the given size; for each (wait_for, send) pair, once `wait_for` has appeared in
    the output (and `settle` seconds more have passed), type `send`. Returns the exit status and everything written
    to the terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(list(cmd), env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    out = b""
    steps = list(script)
    deadline = time.time() + timeout
    seen_at = 0.0
    try:
        while time.time() < deadline:
            if steps and steps[0][0].encode() in out:
                seen_at = seen_at or time.time()
                if time.time() >= seen_at + settle:
                    os.write(master, steps.pop(0)[1].encode())
                    seen_at = 0.0
                    continue
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
        return proc.wait(10), out.decode("utf-8", "replace").replace("\r", "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        os.close(master)
