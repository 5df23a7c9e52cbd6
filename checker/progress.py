"""Progress while a check runs: distinct states, states per second, queue and depth, on stderr.

Engines call a progress function with a :class:`~kubecheck.explicit.Progress` about once a
second. On a terminal, :class:`ProgressReporter` keeps one live status line up to date and
clears it when the check ends. Elsewhere (a pipe, CI) it prints nothing, unless asked to
print one plain line per report (``kubecheck check --progress``)::

    with ProgressReporter(sys.stderr) as progress:
        result = model.checker().progress(progress).run()
"""

from __future__ import annotations

import sys
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from .explicit import Progress
from .report import is_tty

__all__ = ["ProgressReporter", "progress_text"]


def progress_text(p: Progress) -> str:
    """``12,345 distinct states (6,170/s), queue 3,456, depth 12, 2 s``."""
    rate = f"{p.distinct / p.seconds:,.0f}/s" if p.seconds > 0 else "-/s"
    return f"{p.distinct:,} distinct states ({rate}), queue {p.queue:,}, depth {p.depth}, {p.seconds:.0f} s"


class ProgressReporter:
    """A progress function for ``Checker.progress``.

    ``mode`` is ``"auto"`` (a live line on a terminal, silent elsewhere), ``"lines"`` (one
    plain line per report, even when not a terminal) or ``"off"``.
    """

    def __init__(self, file: IO[str] | None = None, mode: str = "auto") -> None:
        if mode not in ("auto", "lines", "off"):
            raise ValueError(f"unknown progress mode {mode!r}")
        self.file = file if file is not None else sys.stderr
        tty = is_tty(self.file)
        self.mode = mode if mode != "auto" else ("live" if tty else "off")
        self.reports = 0
        self._live: Live | None = None
        self._console: Console | None = None
        if self.mode == "live":
            self._console = Console(file=self.file, markup=False, emoji=False, highlight=False)
        elif self.mode == "lines":
            self._console = Console(file=self.file, force_terminal=tty, no_color=not tty, markup=False,
                                    emoji=False, highlight=False, soft_wrap=True)

    def __call__(self, p: Progress) -> None:
        self.reports += 1
        if self._console is None:
            return
        line = Text("exploring: ", style="bold", no_wrap=True, overflow="ellipsis") + Text(progress_text(p))
        if self.mode == "lines":
            self._console.print(line)
            self.file.flush()
            return
        if self._live is None:
            self._live = Live(line, console=self._console, transient=True, auto_refresh=False)
            self._live.start()
        self._live.update(line, refresh=True)

    def close(self) -> None:
        """Clear the live line (if any). Safe to call more than once."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __enter__(self) -> "ProgressReporter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

