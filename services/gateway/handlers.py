"""The egress's consumed topics: one handler per topic, registered in HANDLERS at the bottom."""

from __future__ import annotations

from dataclasses import dataclass

from contracts import OutboundCommand, citizen_key
from contracts.topics import ZALO_DELIVERY, ZALO_OUTBOUND
from servicekit.producer import Outgoing
from services.gateway.delivery import Delivery


@dataclass(frozen=True)
class Deps:
    """What the egress handlers need (built in egress.py)."""

    delivery: Delivery


async def handle_outbound(cmd: OutboundCommand, deps: Deps) -> list[Outgoing]:
    """Send one command to Zalo (or find its recorded outcome) and publish the outcome."""
    outcome = await deps.delivery.deliver(cmd)
    return [Outgoing(ZALO_DELIVERY, citizen_key(outcome.oa_id, outcome.user_id), outcome)]


HANDLERS = {ZALO_OUTBOUND: handle_outbound}
