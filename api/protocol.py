"""uvicorn's HTTP protocol with a deadline for a request's headers.

uvicorn closes a keep-alive connection that stays idle after a response, but a connection that never sends a
byte, or sends its headers a byte at a time, is held for ever: some thousands of them fill the process's file
descriptors and the server stops answering. Here every connection must deliver a complete request head within
``MMHEDGE_HEADER_TIMEOUT_S`` seconds (default 10) of opening, and again of each response it has had; otherwise it
is closed. A request whose head has arrived is never cut short (a reset may legitimately take seconds).

Used by ``make run``: ``uvicorn --http api.protocol:HttpProtocol ...``.
"""
from __future__ import annotations

import os

try:  # the fast parser when installed (a dependency), h11 otherwise: the same choice as uvicorn's "auto"
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base


def header_timeout_s() -> float:
    """Seconds a connection has to send a complete request head (``MMHEDGE_HEADER_TIMEOUT_S``, default 10)."""
    text = os.environ.get("MMHEDGE_HEADER_TIMEOUT_S", "10")
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.1 <= value <= 3600:  # also refuses nan
        raise SystemExit(f"error: MMHEDGE_HEADER_TIMEOUT_S={text!r}: expected seconds between 0.1 and 3600")
    return value


HEADER_TIMEOUT_S = header_timeout_s()


class HttpProtocol(_Base):
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def connection_lost(self, exc) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._cancel_header_deadline()
        self._header_deadline = self.loop.call_later(HEADER_TIMEOUT_S, self._header_deadline_passed)

    def _cancel_header_deadline(self) -> None:
        timer = getattr(self, "_header_deadline", None)
        if timer is not None:
            timer.cancel()
            self._header_deadline = None

    def _header_deadline_passed(self) -> None:
        self._header_deadline = None
        waiting_for_a_request = self.cycle is None or self.cycle.response_complete
        if waiting_for_a_request and not self.transport.is_closing():
            self.transport.close()


# The server as `make run` starts it (the Makefile spells the same arguments): tests, examples and benches use this.
UVICORN_ARGS = ["-m", "uvicorn", "--factory", "api.app:create_app", "--http", "api.protocol:HttpProtocol"]
