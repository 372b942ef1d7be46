"""`submit` asks a person at a terminal what the key is called, the suggested name first."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest
import typer

from rotation import cli as cli_module
from rotation.credentials import Kind


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_prompt_defaults_to_the_suggested_name(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict[str, Any]] = []

    def prompt(text: str, **kw: Any) -> str:
        asked.append({"text": text, **kw})
        return str(kw["default"])  # the operator presses Enter

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(typer, "prompt", prompt)
    got = cli_module._key_name(None, "billing-20260302", None, Kind.TRACK, False)  # type: ignore[arg-type]
    assert got == "billing-20260302"
    assert asked and asked[0]["default"] == "billing-20260302"
    assert "called in the dashboard" in asked[0]["text"]


def test_no_prompt_for_webhook_keys_piped_input_or_a_given_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def prompt(text: str, **kw: Any) -> str:
        raise AssertionError("asked")

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(typer, "prompt", prompt)
    assert cli_module._key_name(None, "s", None, Kind.WEBHOOK_SIGNING, False) == ""  # type: ignore[arg-type]
    assert cli_module._key_name(None, "s", None, Kind.APP, True) == ""  # type: ignore[arg-type]
    assert cli_module._key_name(None, "s", "given-name", Kind.APP, False) == "given-name"  # type: ignore[arg-type]
