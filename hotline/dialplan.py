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

#: Asterisk reserves [general] in queues.conf, so a skill's queue is named with this prefix:
#: skill "general" is Asterisk queue "hotline-general".
QUEUE_PREFIX = "hotline-"

#: Channel variables the flows set for the dialplan and the call log.
VAR_QUEUE = "HOTLINE_QUEUE"  # the skill a caller was queued for (read by the callback flow)
VAR_OUTCOME = "HOTLINE_OUTCOME"
VAR_RECORDING = "HOTLINE_RECORDING"

_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def asterisk_queue(skill: str) -> str:
    """The Asterisk queue of a skill (what Queue(), QUEUE_WAITING_COUNT() and AMI take)."""
    if not _SAFE.match(skill):
        raise ValueError(f"unsafe queue name {skill!r}")
    return QUEUE_PREFIX + skill


def skill_of(asterisk_name: str) -> str | None:
    """The skill behind an Asterisk queue name, or None for a queue that isn't ours."""
    return asterisk_name[len(QUEUE_PREFIX) :] if asterisk_name.startswith(QUEUE_PREFIX) else None


def queue_application_data(skill: str, max_wait_seconds: int = 0) -> str:
    """The data of EXEC Queue for a skill's queue: wait at most `max_wait_seconds` (0: no
    limit), and run the recording gosub on the agent's channel once connected."""
    timeout = str(max_wait_seconds) if max_wait_seconds > 0 else ""
    # Queue(queuename,options,URL,announceoverride,timeout,AGI,gosub)
    return f"{asterisk_queue(skill)},,,,{timeout},,{CONTEXT_AGENT_ANSWERED}"


def message_path(voicemail_dir: str, uniqueid: str, fmt: str = "wav") -> str:
    """Where a caller's message is recorded, by the IVR or by the dialplan's own fallback."""
    if not _SAFE.match(uniqueid):
        raise ValueError(f"unsafe uniqueid {uniqueid!r}")
    return f"{voicemail_dir.rstrip('/')}/{uniqueid}.{fmt}"


def recording_path(recordings_dir: str, uniqueid: str, fmt: str = "wav") -> str:
    """Where MixMonitor writes an answered call (the gosub and the call log agree on it)."""
    if not _SAFE.match(uniqueid):
        raise ValueError(f"unsafe uniqueid {uniqueid!r}")
    return f"{recordings_dir.rstrip('/')}/{uniqueid}.{fmt}"
