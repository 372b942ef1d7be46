"""`make drill`: whole rotations on the embedded local cloud, as an operator sees them."""

from __future__ import annotations

import logging
import sys
import time

from rich.console import Console

from drill import aws, gcp


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)  # the audit trail is INFO: the drill shows notices
    console = Console(width=150)
    start = time.perf_counter()
    aws.run(console)
    gcp.run(console)
    console.print(f"\n[bold green]Drill finished in {time.perf_counter() - start:.1f} s.[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
