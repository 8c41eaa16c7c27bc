"""CPU time spent by each process of a running system over a measured stretch, per message handled.

The end-to-end figures depend on how much CPU one citizen message costs across the whole system
(webhook in, Kafka, every consumer, MongoDB, the reply out, Zalo's echo of it) and on how many cores
the machine has. Measuring that cost per process turns "p99 is high at N messages/s" into a ceiling:
`cores × 1000 / cpu_ms_per_message` messages/s is the most this machine can handle, whatever the latency.
Read from /proc/<pid>/stat (user + system time of the process and its waited-for children; Linux only).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from devstack import procs
from devstack.paths import StackConfig

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of `pid` so far, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After "pid (comm)": state is field 3, utime 14, stime 15 (1-based in proc(5)); [0] here is state.
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class CpuMeter:
    """`start()` then `per_message(n)`: CPU milliseconds each named process spent per message."""

    pids: Mapping[str, int]
    _start: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of_system(cls, cfg: StackConfig, process_names: Mapping[str, str], infrastructure: Iterable[str]) -> CpuMeter:
        """`process_names`: label → devstack process name; `infrastructure`: shared processes (kafka, ferretdb)."""
        named = {**dict(process_names), **{n: n for n in infrastructure}}
        pids = {label: pid for label, name in named.items() if (pid := procs.running_pid(cfg, name)) is not None}
        pids["load generator"] = os.getpid()
        return cls(pids)

    def start(self) -> None:
        self._start = {label: s for label, pid in self.pids.items() if (s := cpu_seconds(pid)) is not None}

    def per_message(self, messages: int) -> dict[str, float]:
        out: dict[str, float] = {}
        for label, before in self._start.items():
            after = cpu_seconds(self.pids[label])
            if after is not None and messages:
                out[label] = round((after - before) * 1000 / messages, 2)
        return out


def ceiling_per_s(cpu_ms_per_message: float, cores: int | None = None) -> float:
    """Messages/s at which the machine's cores are fully busy (the load generator included)."""
    cores = cores or os.cpu_count() or 1
    return round(cores * 1000 / cpu_ms_per_message, 1) if cpu_ms_per_message > 0 else float("inf")
