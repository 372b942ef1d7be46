"""`submit` asks what the key is called, the suggested name first; Enter accepts it."""

from __future__ import annotations

import io
import sys

import pytest
import typer

from rotation import cli as cli_module
from rotation.credentials import Kind


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def key_name(*args: object) -> str:
    return cli_module._key_name(None, *args)  # type: ignore[arg-type]


def test_enter_accepts_the_suggested_name_shown_in_brackets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("\n"))
    assert key_name("billing-20260302", None, Kind.TRACK, False, True) == "billing-20260302"
    assert "called in the dashboard? [billing-20260302]:" in capsys.readouterr().err


def test_a_typed_name_is_recorded_as_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("Billing prod Dec\n"))
    assert key_name("billing-20260302", None, Kind.TRACK, False, True) == "Billing prod Dec"


def test_no_question_for_webhook_keys_stdin_documents_or_a_given_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("never read\n"))
    assert key_name("s", None, Kind.WEBHOOK_SIGNING, False, True) == ""
    assert key_name("s", None, Kind.APP, True, False) == ""  # a rotation's name stands
    assert key_name("s", "given-name", Kind.APP, False, True) == "given-name"
    assert sys.stdin.read() == "never read\n"


def test_a_first_key_from_stdin_needs_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(""))
    with pytest.raises(typer.Exit) as raised:
        key_name("billing-20260302", None, Kind.APP, True, True)
    assert raised.value.exit_code == 2


def test_input_that_ends_before_the_name_keeps_the_rotations_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(""))
    assert key_name("billing-20260302", None, Kind.APP, False, False) == ""
