"""`make drill`: whole rotations on the embedded local cloud, as an operator sees them."""

from __future__ import annotations

import logging
import sys
import time

from rich.console import Console

from drill import aws


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    console = Console(width=110)
    start = time.perf_counter()
    aws.run(console)
    console.print(f"\n[bold green]Drill finished in {time.perf_counter() - start:.1f} s.[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
