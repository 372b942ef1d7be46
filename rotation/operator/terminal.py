"""What the CLI (and the drill) write to a terminal, and how: colour, width, wrapping.

One place decides whether a stream gets escape codes: only a real terminal that
has not asked for none (`NO_COLOR`, `TERM=dumb`). The decision is taken when the
console is made, for the stream of that moment, so output captured by a test
runner or another program never carries codes meant for the terminal the process
started in. Text wraps at word boundaries to the terminal's width; a command in
backticks is never broken; a pipe gets whole lines.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from typing import IO

from rich.console import Console

MIN_WIDTH = 60  # narrower terminals still get 60-column lines (they wrap themselves)
_NBSP = "\u00a0"
_COMMAND = re.compile(r"`[^`]*`")


def wants_plain(stream: IO[str]) -> bool:
    """No escape codes: not a terminal, or NO_COLOR set (https://no-color.org), or a dumb one."""
    if os.environ.get("NO_COLOR"):
        return True
    if os.environ.get("TERM", "") in ("dumb", "unknown"):
        return True
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def console(
    stream: IO[str] | None = None,
    *,
    stderr: bool = False,
    width: int | None = None,
    soft_wrap: bool = True,
    markup: bool = False,
) -> Console:
    """A console for `stream` (default: this moment's stdout or stderr). Data is never read
    as markup or emoji; styles render only where `wants_plain` is false. `soft_wrap=False`:
    rich wraps at word boundaries to the width (the drill in a terminal)."""
    plain = wants_plain(stream or (sys.stderr if stderr else sys.stdout))
    return Console(
        file=stream,  # None: whatever sys.stdout / sys.stderr is when writing
        stderr=stderr,
        color_system=None if plain else "auto",
        no_color=plain,
        force_terminal=False if plain else None,
        width=width,
        highlight=False,
        soft_wrap=soft_wrap,
        markup=markup,  # only for text the caller wrote (the drill's), data escaped
        emoji=False,
    )


def wrap(text: str, width: int, indent: int | None = None) -> str:
    """`text` wrapped at word boundaries to `width` (at least MIN_WIDTH) columns.

    Continuation lines are indented like the first line, plus `indent` more columns when
    given (a label column, for example). A span in backticks (a command) is kept on one
    line, as are words longer than the line: nothing is ever split inside a word.
    """
    width = max(width, MIN_WIDTH)
    lines: list[str] = []
    for line in text.split("\n"):
        lead = len(line) - len(line.lstrip(" "))
        hang = " " * (lead + (indent or 0))
        glued = _COMMAND.sub(lambda m: m.group(0).replace(" ", _NBSP), line.lstrip(" "))
        wrapped = textwrap.wrap(
            glued,
            width=width,
            initial_indent=" " * lead,
            subsequent_indent=hang if len(hang) < width // 2 else " " * (lead + 2),
            break_long_words=False,
            break_on_hyphens=False,
        )
        for w in wrapped or [line]:
            w = w.replace(_NBSP, " ")
            if len(w) > width:  # one word too long for its indent: give it the room it needs
                word = w.lstrip(" ")
                w = " " * max(0, min(len(w) - len(word), width - len(word))) + word
            lines.append(w)
    return "\n".join(lines)
