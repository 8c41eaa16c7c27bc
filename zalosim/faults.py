"""Misbehaviour on demand: which injected faults hit a request to the Zalo surface.

Pure: the caller passes ``now`` (simulator clock) and acts on the returned decision.
A fault is limited by a request ``count``, a ``duration``, both, or neither (until cleared), and
optionally by ``path`` (exact, or a prefix when it ends with ``*``).
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from zalosim import rules


class FaultKind(StrEnum):
    HTTP_ERROR = "http_error"  # answer HTTP 5xx instead of Zalo's 200 envelope
    HANG = "hang"  # sleep before answering (a client with a short timeout sees a timeout)
    ZALO_ERROR = "zalo_error"  # refuse with a Zalo error code
    LATENCY = "latency"  # add delay to every response


@dataclass(slots=True)
class Fault:
    fault_id: int
    kind: FaultKind
    path: str | None = None
    remaining: int | None = None  # requests still to hit; None = unlimited
    until: float | None = None  # simulator time after which the fault is gone
    seconds: float = 0.0  # delay for hang / latency
    status: int = 503  # for http_error
    code: int = 0  # for zalo_error
    message: str | None = None  # for zalo_error; default: Zalo's message for the code
    hits: int = 0

    def matches(self, path: str) -> bool:
        if self.path is None:
            return True
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path

    def public(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.fault_id, "kind": str(self.kind), "path": self.path, "hits": self.hits}
        if self.remaining is not None:
            out["remaining"] = self.remaining
        if self.until is not None:
            out["seconds_left"] = round(max(self.until - now, 0.0), 3)
        if self.kind in (FaultKind.HANG, FaultKind.LATENCY):
            out["seconds"] = self.seconds
        if self.kind is FaultKind.HTTP_ERROR:
            out["status"] = self.status
        if self.kind is FaultKind.ZALO_ERROR:
            out["code"] = self.code
            out["message"] = self.message or rules.message_for(self.code)
        return out


@dataclass(slots=True)
class FaultDecision:
    delay: float = 0.0
    http_status: int | None = None
    zalo_error: rules.ZaloApiError | None = None
    applied: list[int] = field(default_factory=list)


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(
        self,
        kind: FaultKind,
        now: float,
        *,
        path: str | None = None,
        count: int | None = None,
        duration_seconds: float | None = None,
        seconds: float = 0.0,
        status: int = 503,
        code: int = 0,
        message: str | None = None,
    ) -> Fault:
        fault = Fault(
            fault_id=self._next_id,
            kind=kind,
            path=path,
            remaining=count,
            until=None if duration_seconds is None else now + duration_seconds,
            seconds=seconds,
            status=status,
            code=code,
            message=message,
        )
        self._next_id += 1
        self._faults.append(fault)
        return fault

    def remove(self, fault_id: int) -> bool:
        before = len(self._faults)
        self._faults = [fault for fault in self._faults if fault.fault_id != fault_id]
        return len(self._faults) != before

    def clear(self) -> None:
        self._faults.clear()

    def active(self, now: float) -> list[Fault]:
        self._prune(now)
        return list(self._faults)

    def _prune(self, now: float) -> None:
        self._faults = [
            fault
            for fault in self._faults
            if (fault.remaining is None or fault.remaining > 0) and (fault.until is None or now < fault.until)
        ]

    def decide(self, path: str, now: float) -> FaultDecision:
        """Which faults hit this request. Delays add up; an HTTP error wins over a Zalo error; a
        count-limited fault is consumed only when it is applied."""
        self._prune(now)
        decision = FaultDecision()
        matching = [fault for fault in self._faults if fault.matches(path)]
        applied = [fault for fault in matching if fault.kind in (FaultKind.LATENCY, FaultKind.HANG)]
        decision.delay = sum(fault.seconds for fault in applied)
        http_error = next((fault for fault in matching if fault.kind is FaultKind.HTTP_ERROR), None)
        zalo_error = next((fault for fault in matching if fault.kind is FaultKind.ZALO_ERROR), None)
        if http_error is not None:
            decision.http_status = http_error.status
            applied.append(http_error)
        elif zalo_error is not None:
            decision.zalo_error = rules.ZaloApiError(zalo_error.code, zalo_error.message)
            applied.append(zalo_error)
        for fault in applied:
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
            decision.applied.append(fault.fault_id)
        return decision
