"""One AMI session for a command-line tool: a blocking socket with the service's own
`AmiProtocol` on it, and no reactor.

Why not `AmiClient`: a command sends an action or two and exits. It needs no reconnecting,
no keep-alive and no event loop, and a Twisted reactor cannot be restarted, so a command run
twice in one process (tests) could not use the global one. The protocol is the same object
the service uses, so framing, ActionID correlation, list completion and error responses
behave identically; its timeouts run on a `Clock` advanced by the real time spent waiting.
"""

from __future__ import annotations

import itertools
import socket
import time
from typing import Any, Self, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.protocol import connectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from hotline.ami import actions
from hotline.ami.actions import Action
from hotline.ami.client import (
    DEFAULT_ACTION_TIMEOUT,
    AmiDisconnected,
    AmiError,
    AmiProtocol,
)

T = TypeVar("T")


class AmiUnreachable(AmiError):
    """No TCP connection to the AMI (Asterisk down, wrong host or port, a firewall)."""


class _SocketTransport:
    """What AmiProtocol writes through."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def loseConnection(self) -> None:
        self.sock.close()

    abortConnection = loseConnection


class BlockingAmi:
    """`with BlockingAmi(host, port, username, secret) as ami: ami.run(action)`.

    Raises AmiUnreachable when nothing answers at host:port, AmiLoginFailed for a refused
    login, AmiActionError with Asterisk's message for a refused action, AmiTimeout when
    Asterisk does not answer within `timeout` seconds, AmiDisconnected if it goes away."""

    def __init__(self, host: str, port: int, username: str, secret: str, *, timeout: float = DEFAULT_ACTION_TIMEOUT) -> None:
        self.address = f"{host}:{port}"
        self._host, self._port = host, port
        self._username, self._secret = username, secret
        self.timeout = timeout
        self._clock = Clock()
        counter = itertools.count(1)
        self.protocol = AmiProtocol(self._clock, lambda: f"cli-{next(counter)}", default_timeout=timeout)
        self._sock: socket.socket | None = None

    def __enter__(self) -> Self:
        try:
            self._sock = socket.create_connection((self._host, self._port), timeout=self.timeout)
        except OSError as exc:
            raise AmiUnreachable(f"cannot reach Asterisk's AMI at {self.address}: {exc.strerror or exc}") from None
        self.protocol.makeConnection(_SocketTransport(self._sock))  # type: ignore[no-untyped-call]  # Twisted leaves it unannotated
        try:
            self._wait(self.protocol.login(self._username, self._secret, timeout=self.timeout))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.protocol.connected:
            try:
                self._wait(self.protocol.send(actions.logoff(), timeout=min(self.timeout, 2.0)))
            except AmiError:
                pass  # we are leaving anyway
        self.close()

    def run(self, action: Action[T]) -> T:
        """Send `action` and wait for its completion."""
        return self._wait(self.protocol.send(action))

    def close(self) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            sock.close()
            if self.protocol.connected:
                self.protocol.connectionLost(connectionDone)

    def _wait(self, deferred: Deferred[T]) -> T:
        outcome: list[Any] = []
        deferred.addBoth(outcome.append)
        last = time.monotonic()
        while not outcome:
            if self._sock is None:
                raise AmiDisconnected("the session", "", False)
            self._sock.settimeout(max(0.01, min(1.0, self.timeout)))
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                data = None
            except OSError:
                data = b""
            now = time.monotonic()
            self._clock.advance(now - last)
            last = now
            if data is None:
                continue
            if not data:
                self._sock.close()
                self._sock = None
                self.protocol.connectionLost(connectionDone)
                continue
            self.protocol.dataReceived(data)
        result = outcome[0]
        if isinstance(result, Failure):
            result.raiseException()
        value: T = result
        return value
