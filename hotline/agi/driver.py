"""The one driver of a call's coroutine, on every transport.

A flow is an `async def` of one `Channel`. It awaits two kinds of things: the channel's
commands, and the Deferreds of database reads. `CallTask` steps the coroutine through both,
without an event loop of its own:

- FastAGI (`hotline.agi.fastagi`): a command is a `Pending` whose reply arrives later from
  the reactor; the task resumes when it does. No Deferred per command: that machinery cost
  as much as the rest of a command (bench/RESULTS.md).
- Classic AGI (`hotline.agi.classic`): commands block on the pipe and never suspend the
  coroutine; `run_to_end` steps it once and expects it to finish, since nothing else runs
  in that process that could resume it later.

A Deferred's failure is thrown into the coroutine where it awaited, as inlineCallbacks does.
A Deferred that fires while the coroutine is running (it already had its result) is
remembered and acted on when the running step returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

log = logging.getLogger(__name__)
T = TypeVar("T")


class Pending:
    """Something a flow awaits whose result the transport delivers later (a command's
    reply). The task sets `resume`; the transport sets `done` and calls it."""

    __slots__ = ("done", "resume")

    def __init__(self) -> None:
        self.done = False
        #: Called once the result is in: the task waiting for it.
        self.resume: Callable[[], None] | None = None


class CallTask:
    """Runs one call's coroutine: resumed by its channel's replies (`Pending`), and by any
    Deferred the flow awaits. What `Deferred.fromCoroutine` does, for the two kinds of
    awaitable a flow has, without a Deferred per command."""

    __slots__ = ("_coroutine", "_error", "_log_errors", "_running", "_woken", "exception", "finished", "result")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], *, log_errors: bool = True) -> None:
        self._coroutine = coroutine
        #: Log what escapes the coroutine (nobody else will see it); off when the caller takes it.
        self._log_errors = log_errors
        self._running = False
        self._woken = False
        #: What to throw into the coroutine at its next step (a failed Deferred's exception).
        self._error: BaseException | None = None
        #: True once the coroutine has returned or raised; then `result` or `exception`.
        self.finished = False
        self.result: Any = None
        self.exception: BaseException | None = None

    def step(self) -> None:
        if self._running:
            self._woken = True
            return
        self._running = True
        try:
            while True:
                self._woken = False
                error, self._error = self._error, None
                try:
                    awaited = self._coroutine.send(None) if error is None else self._coroutine.throw(error)
                except StopIteration as stop:
                    self.finished, self.result = True, stop.value
                    return
                if isinstance(awaited, Pending):
                    if awaited.done:
                        continue
                    awaited.resume = self.step
                    return
                if isinstance(awaited, Deferred):
                    awaited.addBoth(self._fired)
                    if self._woken:
                        continue
                    return
                self._error = TypeError(f"an IVR flow awaited {awaited!r}: only channel commands and Deferreds can be awaited here")
        except BaseException as exc:  # the flow's own guard let something through
            self.finished, self.exception = True, exc
            if self._log_errors:
                log.exception("call task ended with an exception")
        finally:
            self._running = False

    def _fired(self, result: object) -> object:
        """The awaited Deferred's callback: a value is read by the coroutine from the
        Deferred itself (it is still its result while this runs); a failure is thrown in."""
        if isinstance(result, Failure):
            self._error = result.value
        if self._running:
            self._woken = True
            # The step in progress reads the value from the Deferred when it loops.
            return None if isinstance(result, Failure) else result
        self.step()
        return None


class Suspended(RuntimeError):
    """A coroutine run by `run_to_end` awaited something that had no result yet: in a
    process without a reactor nothing would ever resume it."""


def run_to_end(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine whose awaits all complete at once (classic AGI: blocking commands,
    reads that already have their result) and return its value."""
    task = CallTask(coroutine, log_errors=False)
    task.step()
    if not task.finished:
        coroutine.close()
        raise Suspended("the call's coroutine waited for a result that nothing in this process will deliver")
    if task.exception is not None:
        raise task.exception
    result: T = task.result
    return result
