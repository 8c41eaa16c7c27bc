"""The simulator clock: real time plus an adjustable offset, so tests can jump ahead in time."""

import time
from collections.abc import Callable


class SimClock:
    """Wall-clock seconds (epoch, float) shifted by an offset that only ever grows."""

    def __init__(self, time_source: Callable[[], float] = time.time) -> None:
        self._time_source = time_source
        self._offset = 0.0

    def now(self) -> float:
        return self._time_source() + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward; returns the new offset."""
        if seconds < 0:
            raise ValueError("the simulator clock only moves forward")
        self._offset += seconds
        return self._offset

    def reset(self) -> None:
        self._offset = 0.0
