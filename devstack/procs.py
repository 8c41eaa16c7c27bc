"""Background processes with pid files and log files under the run folder."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from devstack.paths import StackConfig

# Popen objects of the processes this interpreter started: kept so that they can be reaped (and so
# that Python does not warn about a child it believes it abandoned).
_children: dict[int, subprocess.Popen[bytes]] = {}


class StartError(RuntimeError):
    """A component did not become usable; the message carries its log tail."""


def pid_file(cfg: StackConfig, name: str) -> Path:
    return cfg.pids / f"{name}.pid"


def log_file(cfg: StackConfig, name: str) -> Path:
    return cfg.logs / f"{name}.log"


def running_pid(cfg: StackConfig, name: str) -> int | None:
    """The pid of a live process we started under `name`, or None."""
    path = pid_file(cfg, name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        path.unlink(missing_ok=True)
        return None
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            _children.pop(pid, None)
            path.unlink(missing_ok=True)
            return None
        return pid
    # A zombie child (exited, not reaped) still answers kill(0): treat it as gone.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            path.unlink(missing_ok=True)
            return None
    return pid


def start(
    cfg: StackConfig, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> int:
    """Start `argv` detached (own session), stdout and stderr appended to logs/<name>.log."""
    cfg.logs.mkdir(parents=True, exist_ok=True)
    cfg.pids.mkdir(parents=True, exist_ok=True)
    with log_file(cfg, name).open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    pid_file(cfg, name).write_text(str(proc.pid))
    return proc.pid


def stop(cfg: StackConfig, name: str, timeout_s: float = 20.0, sig: int = signal.SIGTERM) -> bool:
    """Send `sig` to the process group, wait, then SIGKILL. True if something was stopped."""
    pid = running_pid(cfg, name)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if running_pid(cfg, name) is None:
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        time.sleep(0.2)
    child = _children.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(5)
    pid_file(cfg, name).unlink(missing_ok=True)
    return True


def log_tail(cfg: StackConfig, name: str, lines: int = 40) -> str:
    path = log_file(cfg, name)
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_checked(argv: Sequence[str], what: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> None:
    """Run a build step; on failure raise with its output."""
    result = subprocess.run(
        list(argv), cwd=str(cwd) if cwd else None, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if result.returncode != 0:
        raise StartError(f"{what} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def wait_port(port: int, timeout_s: float) -> bool:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
