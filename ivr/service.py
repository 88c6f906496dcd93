"""The IVR's side of the composition root: how its call handler is built. `hotline.service`
finds this module through the `hotline.call_handlers` entry point, so the core never imports
the IVR."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hotline.config import Config


def build_call_handler(reactor: Any, config: Config, pool: Any, registry: Any, flows: Mapping[str, Any]) -> Any:
    """The AGI call handler (entry point `hotline.call_handlers`): a CallRunner routing to
    `flows` by dialplan name. In the ivr role (a reactor and its pool) its call log is closed,
    written or journalled, before the reactor stops; without a reactor (the classic AGI
    script, one call per process) its database work runs inline. Raises ServiceError for a
    menu the validator refuses."""
    from hotline.calllog.child import writer_argv
    from hotline.service import ServiceError
    from ivr.menu import MenuError
    from ivr.runner import CallRunner

    try:
        runner = CallRunner.from_config(config, database=pool, registry=registry, writer=writer_argv(config) if reactor is not None else None)
    except MenuError as exc:
        raise ServiceError(f"menu refused: {exc}") from None
    runner.flows = dict(flows)
    if reactor is not None:
        # The writer process once the role runs: a role that fails to start (a port taken)
        # leaves no writer behind.
        reactor.callWhenRunning(runner.calllog.start)
        # "before": the reactor waits for the call log to finish (written or journalled)
        # while the pool's threads still run.
        reactor.addSystemEventTrigger("before", "shutdown", runner.close)
    return runner
