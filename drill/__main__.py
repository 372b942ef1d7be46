"""`make drill`: whole rotations on the embedded local cloud, as an operator sees them."""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path

# The drill's applications are the consumer library of this checkout (consumer/), as in
# the tests (pytest's pythonpath): not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "consumer"))

# google.api_core warns about this machine's Python on import (once per module that
# imports it): a note for whoever maintains the interpreter, not part of the drill.
warnings.filterwarnings("ignore", message="You are using a Python version", category=FutureWarning)

from drill import aws, gcp  # noqa: E402 (after the filter: importing them warns)
from rotation.operator import terminal  # noqa: E402


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)  # the audit trail is INFO: the drill shows notices
    # The terminal's width, wrapped at words; in a pipe whole lines. No escape codes when
    # piped, with NO_COLOR or TERM=dumb.
    console = terminal.console(soft_wrap=not terminal.is_terminal(sys.stdout), markup=True)
    start = time.perf_counter()
    aws.run(console)
    gcp.run(console)
    console.print(f"\n[bold green]Drill finished in {time.perf_counter() - start:.1f} s.[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
