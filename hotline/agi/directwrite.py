"""Writing a short message to a Twisted stream transport's socket at once.

Why: `transport.write()` buffers until the reactor's next turn, which costs an extra poll
and two epoll changes per message, and makes the message wait behind every other event of
that turn. The buffering only pays off when writes can be coalesced; an AGI command (one in
flight per call) never is. So a message goes straight to the socket while nothing is queued; if the kernel
takes less than all of it (a peer that stopped reading), the rest and every later message
go through `transport.write`, which keeps the order and reports errors the usual way.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet.interfaces import ISystemHandle


class DirectWriter:
    def __init__(self, transport: Any) -> None:
        self.transport = transport
        handle = transport.getHandle() if ISystemHandle.providedBy(transport) else None
        self._socket: socket.socket | None = handle if isinstance(handle, socket.socket) else None

    @property
    def direct(self) -> bool:
        """True while messages still go straight to the socket."""
        return self._socket is not None

    def finish(self) -> bool:
        """Send FIN now if everything went straight to the socket (nothing is left in the
        transport's buffer); the transport closes the descriptor on its next turn as usual.
        False when it has to be left to the transport."""
        sock = self._socket
        if sock is None:
            return False
        self._socket = None
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return False
        return True

    def write(self, data: bytes) -> None:
        sock = self._socket
        if sock is not None:
            try:
                sent = sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # a broken connection: let the transport find and report it
            if sent == len(data):
                return
            self._socket = None
            data = data[sent:]
        self.transport.write(data)
