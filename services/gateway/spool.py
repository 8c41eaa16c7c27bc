"""The ingress spool: webhooks accepted while Kafka is unreachable, fsynced, drained in order later.

Layout: `spool.log` holds length-prefixed (key, value) records appended in acceptance order;
`spool.offset` holds how far the drainer has published. A record is fsynced before the webhook is
answered 200, so a torn record at the tail was never acknowledged and is cut off on open. The
drainer may publish a record twice across a crash (offset written after publishing): consumers
deduplicate on event_id.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

_HEADER = struct.Struct(">II")


class Spool:
    """An append-only, fsynced local queue with a persisted read offset."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.log_path = directory / "spool.log"
        self.offset_path = directory / "spool.offset"
        self._lock = asyncio.Lock()
        self._offset = 0
        self._size = 0

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path.touch(exist_ok=True)
        self._offset = int(self.offset_path.read_text() or 0) if self.offset_path.exists() else 0
        self._size = self._complete_size()
        with self.log_path.open("r+b") as f:
            f.truncate(self._size)
        self._offset = min(self._offset, self._size)

    @property
    def pending_bytes(self) -> int:
        return self._size - self._offset

    def pending(self) -> bool:
        return self._size > self._offset

    def pending_records(self) -> int:
        return sum(1 for _ in self._records(self._offset))

    async def append(self, key: bytes, value: bytes) -> None:
        record = _HEADER.pack(len(key), len(value)) + key + value
        async with self._lock:
            await asyncio.to_thread(self._append_sync, record)
            self._size += len(record)

    def _append_sync(self, record: bytes) -> None:
        with self.log_path.open("ab") as f:
            f.write(record)
            f.flush()
            os.fsync(f.fileno())

    async def drain(self, publish: Callable[[bytes, bytes], Awaitable[None]], max_records: int = 500) -> int:
        """Publish pending records in order; stop at the first failure (raised). Returns how many were sent."""
        sent = 0
        try:
            for end, key, value in self._records(self._offset):
                await publish(key, value)
                self._offset = end
                sent += 1
                if sent >= max_records:
                    break
        finally:
            if sent:
                await asyncio.to_thread(self._write_offset, self._offset)
        async with self._lock:
            if self._offset == self._size and self._size:
                await asyncio.to_thread(self._reset)
        return sent

    def _records(self, start: int):
        with self.log_path.open("rb") as f:
            f.seek(start)
            pos = start
            while pos < self._size:
                head = f.read(_HEADER.size)
                if len(head) < _HEADER.size:
                    return
                klen, vlen = _HEADER.unpack(head)
                body = f.read(klen + vlen)
                if len(body) < klen + vlen:
                    return
                pos += _HEADER.size + klen + vlen
                yield pos, body[:klen], body[klen:]

    def _complete_size(self) -> int:
        size, end = self.log_path.stat().st_size, 0
        with self.log_path.open("rb") as f:
            while True:
                head = f.read(_HEADER.size)
                if len(head) < _HEADER.size:
                    break
                klen, vlen = _HEADER.unpack(head)
                if end + _HEADER.size + klen + vlen > size:
                    break
                f.seek(klen + vlen, os.SEEK_CUR)
                end += _HEADER.size + klen + vlen
        return end

    def _write_offset(self, offset: int) -> None:
        tmp = self.offset_path.with_suffix(".tmp")
        with tmp.open("w") as f:
            f.write(str(offset))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.offset_path)

    def _reset(self) -> None:
        with self.log_path.open("r+b") as f:
            f.truncate(0)
            os.fsync(f.fileno())
        self._write_offset(0)
        self._offset = self._size = 0
