"""The egress's consumed topics: one handler per topic, registered at the bottom.

Replies and notices (HANDLERS) and campaign commands (BULK_HANDLERS) are consumed by two loops in
two consumer groups: a campaign command waiting for a rate slot holds up only other campaign commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import OutboundCommand, citizen_key
from contracts.topics import ZALO_DELIVERY, ZALO_OUTBOUND, ZALO_OUTBOUND_BULK
from servicekit.consumer import self_deduplicating
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


# The send claim (one per command_id, written before Zalo is called) is the egress's idempotency record:
# a redelivered command finds it and re-publishes the recorded outcome instead of sending again.
HANDLERS = {ZALO_OUTBOUND: self_deduplicating(handle_outbound)}
BULK_HANDLERS = {ZALO_OUTBOUND_BULK: self_deduplicating(handle_outbound)}
