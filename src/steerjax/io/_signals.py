"""SIGINT and SIGTERM while a program runs: stop, keep the old output (the command line then
exits with status 130 or 143; a script using :class:`StopOnSignals` decides for itself).

Python turns SIGINT into a ``KeyboardInterrupt`` raised wherever the interpreter happens to
be -- and where that is a garbage-collector callback or a ``__del__`` method, the exception is
printed as "Exception ignored" and the program goes on as if nothing had happened.  JAX
registers such a callback, so a Ctrl-C during a long run could be lost and the run would go on
to overwrite its output.  :class:`StopOnSignals` makes a signal stick:

1. its handler records the signal with :func:`steerjax._io.request_stop` before raising
   ``KeyboardInterrupt``, so every writer refuses at its commit point from then on, even if
   that exception is swallowed;
2. a helper thread raises the interrupt again in the main thread every
   :data:`REDELIVER_INTERVAL_S` seconds until the command has stopped, so a swallowed
   interrupt delays the stop instead of cancelling it;
3. a ``KeyboardInterrupt`` that leaves the ``with`` block is caught there (a repeated one
   cannot escape the caller's own handling), and the caller reads :attr:`StopOnSignals.signum`
   and returns ``128 + signum``.

SIGTERM gets the same treatment (so a terminated run removes its temporary file).  The
previous handlers are put back on exit, so in-process callers (tests) are not affected.  A signal
that is ignored when the command starts (``SIG_IGN``, e.g. SIGINT for a background job of a
non-interactive shell) stays ignored.  Off the main thread (where Python cannot install
handlers) it does nothing.
"""

from __future__ import annotations

import _thread
import signal
import threading

from .._io import clear_stop, request_stop, stop_requested

__all__ = ["StopOnSignals", "REDELIVER_INTERVAL_S"]

REDELIVER_INTERVAL_S = 0.25
"""Seconds between repeated interrupts after a signal, until the command has stopped."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignals:
    """Context manager: while active, SIGINT and SIGTERM request a stop (see module docstring).

    Examples:
        >>> with StopOnSignals() as stop:
        ...     pass
        >>> stop.signum is None and stop.interrupted is None and not stop.stopped
        True
        >>> with StopOnSignals() as stop:
        ...     raise KeyboardInterrupt
        >>> stop.stopped, stop.exit_status, stop.reason
        (True, 130, 'interrupted by SIGINT')
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.interrupted: KeyboardInterrupt | None = None
        self._armed = False
        self._previous: dict[int, object] = {}
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopped(self) -> bool:
        """Whether a signal (or a ``KeyboardInterrupt``) stopped the block."""
        return self.signum is not None or self.interrupted is not None

    @property
    def exit_status(self) -> int:
        """The exit status of a stopped program: 128 + the signal's number (130 for SIGINT, also
        for a bare ``KeyboardInterrupt``, 143 for SIGTERM)."""
        return 128 + (self.signum if self.signum is not None else signal.SIGINT)

    @property
    def reason(self) -> str:
        """What stopped the block, in words: ``interrupted by SIGINT`` and the interrupt's own
        message, if it has one."""
        signum = self.signum if self.signum is not None else signal.SIGINT
        detail = f"; {self.interrupted}" if self.interrupted is not None and str(self.interrupted) else ""
        return f"interrupted by {signal.Signals(signum).name}{detail}"

    def _handler(self, signum: int, frame) -> None:
        request_stop(signum)
        if self.signum is None:
            self.signum = signum
        if not self._armed:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._redeliver, name="steerjax-stop", daemon=True)
            self._thread.start()
        raise KeyboardInterrupt

    def _redeliver(self) -> None:
        while not self._done.wait(REDELIVER_INTERVAL_S):
            _thread.interrupt_main(self.signum)

    def __enter__(self) -> StopOnSignals:
        clear_stop()
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:  # an ignored signal stays ignored
                    self._previous[sig] = signal.signal(sig, self._handler)
            self._armed = True
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        """Put the previous handlers back; a ``KeyboardInterrupt`` leaving the block is kept in
        :attr:`interrupted` and not propagated (the caller returns an exit status)."""
        self._armed = False  # from here on the handler only records
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        _let_pending_handlers_run()
        for sig, previous in self._previous.items():
            if previous is not None:
                signal.signal(sig, previous)
        if self.signum is None:
            self.signum = stop_requested()
        clear_stop()
        if isinstance(exc, KeyboardInterrupt):
            self.interrupted = exc
            return True
        return False


def _let_pending_handlers_run() -> None:
    """A Python-level call: the interpreter runs signal handlers that are due before it."""
