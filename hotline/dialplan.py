"""The contract between the dialplan we render (`asterisk_conf`) and the flows we run (`ivr`):
flow names, context names, keys and the Queue() arguments. Both sides import these names,
so the dialplan can never name a flow the IVR doesn't serve, or the other way round.
"""

from __future__ import annotations

import re

#: FastAGI flows, as in AGI(agi://host:port/<flow>?…).
FLOW_IVR = "ivr"  # the 12319 inbound menu
FLOW_QUEUE_CALLBACK = "queue_callback"  # a queued caller pressed the callback key
FLOWS = (FLOW_IVR, FLOW_QUEUE_CALLBACK)

#: Dialplan contexts.
CONTEXT_INBOUND = "hotline-inbound"  # calls to the hotline number from the trunk
CONTEXT_QUEUE_EXIT = "hotline-queue-exit"  # queues.conf `context`: single-key exits while waiting
CONTEXT_AGENT_ANSWERED = "hotline-agent-answered"  # Queue() gosub on the agent's channel: recording
CONTEXT_SEATS = "hotline-seats"  # what agent phones may dial
CONTEXT_OUTBOUND = "hotline-outbound"  # calls the service originates (callbacks)
CONTEXT_FALLBACK = "hotline-fallback"  # no FastAGI host answered: straight to the general queue

#: While queued, this key leaves the queue to ask for a callback (the place is kept).
QUEUE_CALLBACK_KEY = "1"
#: The queue every caller reaches when nothing else applies, and the failover target.
GENERAL_QUEUE = "general"

#: Channel variables the flows set for the dialplan and the call log.
VAR_TICKET = "HOTLINE_TICKET"
VAR_OUTCOME = "HOTLINE_OUTCOME"
VAR_RECORDING = "HOTLINE_RECORDING"

_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def queue_application_data(queue: str, max_wait_seconds: int = 0) -> str:
    """The data of EXEC Queue for `queue`: wait at most `max_wait_seconds` (0: no limit), and
    run the recording gosub on the agent's channel once connected."""
    if not _SAFE.match(queue):
        raise ValueError(f"unsafe queue name {queue!r}")
    timeout = str(max_wait_seconds) if max_wait_seconds > 0 else ""
    # Queue(queuename,options,URL,announceoverride,timeout,AGI,gosub)
    return f"{queue},,,,{timeout},,{CONTEXT_AGENT_ANSWERED}"


def recording_path(recordings_dir: str, uniqueid: str, fmt: str = "wav") -> str:
    """Where MixMonitor writes an answered call (the gosub and the call log agree on it)."""
    if not _SAFE.match(uniqueid):
        raise ValueError(f"unsafe uniqueid {uniqueid!r}")
    return f"{recordings_dir.rstrip('/')}/{uniqueid}.{fmt}"
