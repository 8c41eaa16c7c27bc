"""The ingress spool on a real file system: group commit, order, torn tails, batches, restarts."""

from __future__ import annotations

import asyncio

import pytest

from services.gateway.spool import Spool

pytestmark = pytest.mark.unit


def opened(path) -> Spool:
    spool = Spool(path)
    spool.open()
    return spool


async def test_concurrent_appends_keep_arrival_order_and_survive_reopen(tmp_path):
    spool = opened(tmp_path)
    await asyncio.gather(*(spool.append(b"k", f"v{i}".encode()) for i in range(200)))
    again = opened(tmp_path)
    assert again.pending_records() == 200
    assert [v for _, _, v in again._records(0)] == [f"v{i}".encode() for i in range(200)]


async def test_a_torn_tail_is_cut_off_on_open(tmp_path):
    spool = opened(tmp_path)
    await spool.append(b"k", b"complete")
    with spool.log_path.open("ab") as f:
        f.write(b"\x00\x00\x00\x01\x00\x00\x00\x09kpartial")  # a record whose write was interrupted
    again = opened(tmp_path)
    assert again.pending_records() == 1 and again.pending_bytes == len(b"complete") + 1 + 8


async def test_drain_publishes_ordered_batches_and_resets_when_empty(tmp_path):
    spool = opened(tmp_path)
    for i in range(7):
        await spool.append(b"k", str(i).encode())
    batches: list[list[bytes]] = []

    async def publish(batch):
        batches.append([v for _, v in batch])

    assert await spool.drain(publish, max_records=5) == 5
    assert opened(tmp_path).pending_records() == 2, "the offset is persisted"
    assert await spool.drain(publish, max_records=5) == 2
    assert batches == [[b"0", b"1", b"2", b"3", b"4"], [b"5", b"6"]]
    assert not spool.pending() and spool.log_path.stat().st_size == 0


async def test_a_failed_batch_moves_nothing(tmp_path):
    spool = opened(tmp_path)
    await spool.append(b"k", b"a")

    async def down(batch):
        raise TimeoutError

    with pytest.raises(TimeoutError):
        await spool.drain(down)
    assert spool.pending_records() == 1
