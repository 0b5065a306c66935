"""The CLI's Rich consoles: messages never wrap, whatever the terminal width.

Rich wraps at ``COLUMNS`` (80 with no terminal), so a long path would split a
one-line message in two; ``soft_wrap`` lets the terminal wrap instead, and
scripts and tests see one line per message.
"""

from __future__ import annotations

from rich.console import Console


def console(*, stderr: bool = False, width: int | None = None) -> Console:
    """A console for CLI messages (``stderr`` for progress and errors)."""
    return Console(stderr=stderr, soft_wrap=True, width=width)
