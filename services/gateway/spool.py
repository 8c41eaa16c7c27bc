"""The ingress spool: webhooks accepted while Kafka is unreachable, fsynced, drained in order later.

Layout: `spool.log` holds length-prefixed (key, value) records appended in acceptance order;
`spool.offset` holds how far the drainer has published. A record is fsynced before the webhook is
answered 200, so a torn record at the tail was never acknowledged and is cut off on open. The
drainer may publish a record twice across a crash (offset written after publishing): consumers
deduplicate on event_id.

Appends are group-committed: concurrent appends are written in arrival order with one write and
one fsync, so spooling under load costs one fsync per batch, not per webhook. The drainer
publishes a batch of records at once (in order) and then moves the offset past all of them.
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
        self._queue: list[tuple[bytes, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

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
        """Return once the record is on disk (fsynced), after every record appended before it."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((_HEADER.pack(len(key), len(value)) + key + value, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        await done

    async def _write_queued(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            data = b"".join(record for record, _ in batch)
            try:
                async with self._lock:
                    await asyncio.to_thread(self._append_sync, data)
                    self._size += len(data)
            except BaseException as exc:
                # Every waiter must hear about it (a webhook never hangs on the spool); a cancelled
                # writer fails the batch in hand and the queue behind it, then stops.
                failure = exc if isinstance(exc, Exception) else OSError("spool writer stopped")
                waiting = batch + self._queue if not isinstance(exc, Exception) else batch
                for _, done in waiting:
                    if not done.done():
                        done.set_exception(failure)
                if not isinstance(exc, Exception):
                    self._queue = []
                    raise
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    def _append_sync(self, record: bytes) -> None:
        with self.log_path.open("ab") as f:
            f.write(record)
            f.flush()
            os.fsync(f.fileno())

    async def drain(
        self, publish: Callable[[list[tuple[bytes, bytes]]], Awaitable[None]], max_records: int = 500
    ) -> int:
        """Publish the next pending records (up to `max_records`, in order, as one batch); on success
        move the offset past them. A failure is raised and moves nothing. Returns how many were sent."""
        batch: list[tuple[bytes, bytes]] = []
        end = self._offset
        for record_end, key, value in self._records(self._offset):
            batch.append((key, value))
            end = record_end
            if len(batch) >= max_records:
                break
        if not batch:
            return 0
        await publish(batch)
        self._offset = end
        await asyncio.to_thread(self._write_offset, end)
        async with self._lock:
            if self._offset == self._size and self._size:
                await asyncio.to_thread(self._reset)
        return len(batch)

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
