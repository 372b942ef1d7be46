"""Run a command in a real pseudo-terminal of a given size, answering its prompts.

The child gets the terminal as its controlling terminal (so `getpass` hides input as it
does for a person), the window size through TIOCSWINSZ (no COLUMNS variable), and what
it prints is read back byte for byte, escape codes included.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Screen:
    code: int
    text: str  # what the terminal received, "\r\n" turned into "\n"

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


def _controlling_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_in_terminal(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    columns: int = 80,
    answers: Sequence[tuple[str, str]] = (),
    cwd: str | None = None,
    timeout: float = 120.0,
) -> Screen:
    """`argv` in a `columns`-wide terminal; each (prompt, answer) is typed once `prompt`
    has appeared (in order), followed by Enter. An answer to a prompt that hides its input
    waits until the terminal's echo is off, as a person's typing would: `getpass` flushes
    what was typed before it turned echo off."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    child_env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(  # noqa: S603 (argv comes from the test)
        list(argv),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_controlling_terminal,
    )
    received = b""
    seen = 0
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                received += chunk
                while pending and pending[0][0].encode() in received[seen:]:
                    prompt, answer = pending.pop(0)
                    seen = received.index(prompt.encode(), seen) + len(prompt)
                    if "hidden" in prompt:
                        _wait_for_no_echo(slave, deadline)
                    os.write(master, answer.encode() + b"\r")
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(f"{argv} did not finish in {timeout}s:\n{received.decode()}")
    finally:
        os.close(master)
        os.close(slave)
    code = proc.wait(timeout=10)
    return Screen(code, received.decode("utf-8", "replace").replace("\r\n", "\n"))


def _wait_for_no_echo(slave: int, deadline: float) -> None:
    while termios.tcgetattr(slave)[3] & termios.ECHO:
        if time.monotonic() > deadline:
            raise AssertionError("the hidden prompt never turned echo off")
        time.sleep(0.01)
