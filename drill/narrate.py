"""How the drill shows a rotation: each step, each command, every notification in full."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from drill.operator import Operator
from rotation.credentials import Credential


@dataclass(frozen=True)
class Shown:
    subject: str
    body: str
    urgency: str
    credential: str = ""  # the stack's name of the credential it is about


class Narrator:
    """Prints each step and every notification not yet shown."""

    def __init__(
        self, console: Console, notices: Callable[[], list[Shown]], operator: Operator
    ) -> None:
        self.console = console
        self.notices = notices
        self.operator = operator
        self.shown = 0
        self.keys: list[str] = []
        self.dashboard_steps = 0  # what the operator does by hand in the Customer.io dashboard
        self.measured: dict[str, int] = {}  # scene -> actions from the opening notice to closed
        # The credentials the scene follows: the stack's timers keep every credential's
        # promises while time passes, so notices about the others arrive too (not shown).
        self.focus: set[str] = set()

    def step(self, text: str) -> None:
        self.console.print(f"\n[bold cyan]▶ {text}[/]")

    def dashboard(self, text: str) -> None:
        """A step the operator takes in the Customer.io dashboard (counted as an action)."""
        self.dashboard_steps += 1
        self.console.print(f"  [bold magenta]\\[dashboard][/] {escape(text)}")

    def created(self, what: str, key: Credential) -> Credential:
        """The operator creates `key` in the dashboard, then copies it: two actions."""
        self.dashboard(f"creates {what}")
        copied = "its Site ID and API key" if key.site_id else "the key (shown once)"
        self.dashboard(f"copies {copied}")
        return self.remember(key)

    def deleted(self, what: str, key: Credential, delete: Callable[[Credential], None]) -> None:
        """The operator deletes `key` in the dashboard (one action): it stops working."""
        self.dashboard(f"deletes {what}")
        delete(key)

    def actions(self) -> int:
        """Every CLI command and dashboard step so far."""
        return self.operator.commands + self.dashboard_steps

    def measure(self, scene: str, since: int) -> None:
        """Record and print the actions taken in `scene` since the count was `since`."""
        self.measured[scene] = self.actions() - since
        self.note(
            f"operator actions from the opening notice to closed: {self.measured[scene]} "
            "(every cio-rotate command and dashboard step)"
        )

    def note(self, text: str) -> None:
        self.console.print(f"  {text}")

    def skip_notifications(self) -> None:
        self.shown = len(self.notices())

    def follow(self, *names: str) -> None:
        """From here on, show the notices about these credentials only."""
        self.focus = set(names)

    def notifications(self) -> None:
        fresh = self.notices()[self.shown :]
        self.shown += len(fresh)
        others = [n for n in fresh if self.focus and n.credential not in self.focus | {""}]
        if others:
            self.note(f"({len(others)} notices about other credentials of the stack: not shown)")
        for n in fresh:
            if n in others:
                continue
            style = {"urgent": "red", "action": "yellow"}.get(n.urgency, "green")
            # Text, not markup: a reason's `[bold]` or `:smile:` shows as the person wrote it.
            # Wrapped inside the panel even in a pipe (soft wrap would crop what does not fit).
            # The subject whole above the panel (a panel's title is cut to its width).
            self.console.print(
                Text(f"Subject: {n.subject}", style=f"bold {style}"), soft_wrap=False
            )
            self.console.print(Panel(Text(n.body), border_style=style), soft_wrap=False)

    def remember(self, credential: Credential) -> Credential:
        self.keys.append(credential.secret)
        if credential.site_id:
            self.keys.append(credential.site_id)
        return credential
