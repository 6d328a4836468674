"""Progress of a long maintenance command: a bar on a terminal, a plain summary otherwise.

tqdm draws the bar (on stderr) only when stderr is a terminal; in a pipe, a log or CI the
command prints one line when it is done instead, so the output stays readable.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm import tqdm


class Progress:
    """Counts work done; `advance` moves the bar, `summary` is what a pipe reads at the end."""

    def __init__(self, bar: tqdm[Any] | None) -> None:
        self.bar = bar
        self.done = 0

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self.bar is not None:
            self.bar.update(amount)


@contextmanager
def progress(
    description: str, total: int | None, *, unit: str = "event", stream: TextIO | None = None
) -> Iterator[Progress]:
    """Track `total` units of `description`; the bar appears only on a terminal."""
    out = stream or sys.stderr
    bar: tqdm[Any] | None = (
        tqdm(total=total, desc=description, unit=unit, file=out, dynamic_ncols=True)
        if out.isatty()
        else None
    )
    tracker = Progress(bar)
    try:
        yield tracker
    finally:
        if bar is not None:
            bar.close()
