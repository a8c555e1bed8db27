"""Progress bars for work that can pass a second: one bar, with a count and a rate, on a terminal.

A bar is shown only when the CLI turned bars on (``enable``: stdout and stderr are both a
terminal and the command was not asked for ``--json``), and only once the work has lasted
``delay`` seconds: fast work prints nothing and never imports the bar library. The bar is drawn
by tqdm (already installed with DVC; it handles widths, rates and terminals that are not one),
on the real stderr under the CLI's :class:`~lineage.terminal.EscapingWriter`, since that writer
would print the bar's carriage returns as ``\\r``. The bar is erased when the work ends; the
command's own summary line says what was done.

Use::

    with progress.bar("indexing records", total=len(names), unit="records") as advance:
        for chunk in chunks:
            ...
            advance(len(chunk))

Callers advance in chunks where items are cheap: each call costs one clock read until the bar
shows.

Standard library only at import time: the hooks import modules that import this one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

Advance = Callable[..., None]  # advance(n=1, total=None): n more items done (of a new total)

_enabled = False
_active = False  # a bar is open: an inner one stays silent, so two never stack
DELAY_S = 1.0  # LINEAGE_PROGRESS_DELAY overrides it (tests set 0 to see a bar on fast work)


def enable(on: bool = True) -> None:
    """Let bars show (the CLI calls this when its output is a terminal and not JSON)."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled


def wanted(*, json_output: bool = False) -> bool:
    """Whether a command's bars should show: both output streams are terminals (nothing is
    drawn into a pipe or a file), the output is not JSON, and LINEAGE_PROGRESS is not 0."""
    if json_output or os.environ.get("LINEAGE_PROGRESS", "") in ("0", "false", "no", "off"):
        return False
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def _delay() -> float:
    try:
        return max(0.0, float(os.environ.get("LINEAGE_PROGRESS_DELAY", DELAY_S)))
    except ValueError:
        return DELAY_S


def _terminal() -> Any:
    stream = sys.stderr
    return getattr(stream, "raw", stream)  # under EscapingWriter: the stream it writes to


class _Bar:
    """Counts work; draws a tqdm bar once the work has lasted the delay."""

    def __init__(self, desc: str, total: int | None, unit: str) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.count = 0
        self.started = time.monotonic()
        self.delay = _delay()
        self.shown: Any = None

    def advance(self, n: int = 1, *, total: int | None = None) -> None:
        if total is not None:  # learnt once the work started (say, a download's size)
            self.total = total
            if self.shown is not None:
                self.shown.total = total
        self.count += n
        if self.shown is not None:
            self.shown.update(n)
        elif self.count and time.monotonic() - self.started >= self.delay:
            self._show()  # not while nothing is done: a count of 0 has no rate to show

    def _show(self) -> None:
        from tqdm import tqdm

        from lineage.errors import printable

        self.shown = tqdm(
            total=self.total,
            desc=printable(self.desc),
            unit=f" {self.unit}",
            file=_terminal(),
            leave=False,
            dynamic_ncols=True,
            mininterval=0.2,
            delay=1e-9,  # no first drawing at 0 done with no rate: refresh() below draws
        )
        # tqdm's rate counts from its own start (on its own clock): back-date it to when the
        # work began, then count what was done before the bar showed.
        self.shown.start_t -= time.monotonic() - self.started
        self.shown.update(self.count)
        self.shown.refresh()  # update() waits out mininterval: draw the count and rate now

    def close(self) -> None:
        if self.shown is not None:
            self.shown.close()
            self.shown = None


def _ignore(n: int = 1, *, total: int | None = None) -> None:
    pass


@contextlib.contextmanager
def bar(desc: str, *, total: int | None = None, unit: str = "items") -> Iterator[Advance]:
    """A progress bar for the work inside the block; yields ``advance(n=1)``."""
    global _active
    if not _enabled or _active:  # one bar at a time: work inside work (an index catch-up
        yield _ignore  # during an import) counts toward the outer bar's line only
        return
    shown = _Bar(desc, total, unit)
    _active = True
    try:
        yield shown.advance
    finally:
        _active = False
        shown.close()
