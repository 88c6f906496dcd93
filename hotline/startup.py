"""What every process of the service does as it starts: its logging, its niceness, and
keeping what start-up built out of the garbage collector's scans. The roles
(`hotline.service`), the supervisor and the ivr role's call-log writer (`hotline.calllog.child`)
all start this way."""

from __future__ import annotations

import gc
import logging
import os

from twisted.logger import STDLibLogObserver, globalLogBeginner

log = logging.getLogger(__name__)


def configure_logging(level: str, process: str = "") -> None:
    """Standard logging to stderr, Twisted's log into it. `process` names a helper process in
    every line (the supervisor's log interleaves its children's)."""
    tag = f"[{process}]" if process else ""
    logging.basicConfig(level=getattr(logging, level), format=f"%(asctime)s %(levelname)s %(name)s{tag}: %(message)s")
    # Alembic's plugin chatter at INFO says nothing an administrator needs.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False)


def lower_priority(process: str, niceness: int) -> None:
    """Yield the CPU to the IVR on a shared machine (config [roles]). Only ever lowers the
    priority: raising it back needs privileges a service should not have."""
    current = os.nice(0)
    if niceness > current:
        os.nice(niceness - current)
        log.info("%s: niceness %d", process, niceness)


def freeze_start_up_objects() -> int:
    """Keep what start-up built (modules, mappers, the menu …) out of the collector's scans.

    Why: a full collection scans every tracked object, and the service's start-up graph is
    large: full collections of it took 32-94 ms on the test VM, and one at run time stops
    every call for as long (bench/RESULTS.md, ivr_calls.py). Start-up garbage is collected
    first; what remains lives as long as the process anyway. Returns the objects frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("start-up done: %d objects kept out of garbage collection", frozen)
    return frozen
