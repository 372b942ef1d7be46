"""The store calls of whole scenarios on the local cloud, counted per step.

Call counts are deterministic under moto and the emulator, so the suite asserts
them (tests/*/test_store_calls.py) and `bench.store_calls` prints the same numbers.
Only the calls of the measured client are counted: each scenario's own checks read
through another client, or after counting stopped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws

from localcloud.aws_harness import AwsHarness
from localcloud.counting import AwsCalls, GcpCalls
from localcloud.customerio import FakeCustomerIO
from localcloud.gcp_harness import GcpHarness
from localcloud.secretmanager_emulator import SecretManagerEmulator
from rotation.clock import SimulatedClock
from rotation.credentials import Credential
from rotation.state import Phase

START = datetime(2026, 1, 1, 9, tzinfo=UTC)


@dataclass(frozen=True)
class AwsRotationCalls:
    """One scheduled rotation of a track key on AWS, by who made the calls and when."""

    promotion: Counter[str]  # the rotator, from the hand-over to the promoted key
    finish_secret: Counter[str]  # the part of `promotion` inside finishSecret
    hand_over: Counter[str]  # the operator: inbox write and RotateSecret
    sweep_idle: Counter[str]  # the rotator's daily sweep of the idle credential
    sweep_opening: Counter[str]  # the sweep on the day the rotation opens


@dataclass(frozen=True)
class GcpRotationCalls:
    """The same on GCP, from the emulator's request log (every caller)."""

    sweep_idle: Counter[str]
    sweep_opening: Counter[str]
    promotion: Counter[str]  # from the inbox event to the promoted key


def aws_rotation(cio: FakeCustomerIO) -> AwsRotationCalls:
    """Bootstrap, open on day 77, hand over, promote, confirm the old key dead, idle."""
    clock = SimulatedClock(START)
    with mock_aws():
        h = AwsHarness(cio=cio, clock=clock)
        with h.runtime.active():
            h.provision("counted", "track", "us", workspace="1")
            h.submit("counted", cio.new_track_key("1"))
            rotator = AwsCalls(h.rt.store.client)
            operator = AwsCalls(h.sm)
            clock.advance(timedelta(days=77))
            with rotator.counting() as sweep_opening:
                h.sweep()
            assert h.state("counted").phase is Phase.AWAITING_KEY
            key = cio.new_track_key("1")
            finish: Counter[str] = Counter()
            real = h.runtime.functions["cio-rotator"]

            def measured(event: dict[str, Any], context: Any) -> Any:
                if event.get("Step") != "finishSecret":
                    return real(event, context)
                before = Counter(rotator.calls)
                try:
                    return real(event, context)
                finally:
                    finish.update(rotator.calls - before)

            h.runtime.register("cio-rotator", measured)
            with rotator.counting() as promotion, operator.counting() as hand_over:
                h.submit("counted", key)
            state = h.state("counted")
            assert state.phase is Phase.PROMOTED and state.current_fp == key.fingerprint
            clock.advance(timedelta(days=1, hours=1))
            for k in list(cio.track_keys):
                if k[1] != key.secret:
                    del cio.track_keys[k]
            h.sweep()
            assert h.state("counted").phase is Phase.IDLE
            clock.advance(timedelta(days=1))
            with rotator.counting() as sweep_idle:
                h.sweep()
    return AwsRotationCalls(
        promotion=Counter(promotion),
        finish_secret=finish,
        hand_over=Counter(hand_over),
        sweep_idle=Counter(sweep_idle),
        sweep_opening=Counter(sweep_opening),
    )


def gcp_rotation(cio: FakeCustomerIO, kind: str = "track") -> GcpRotationCalls:
    """Bootstrap, a day idle, open on day 77, hand over and promote (track or webhook)."""
    clock = SimulatedClock(START)
    emulator = SecretManagerEmulator().start()
    try:
        h = GcpHarness(cio=cio, clock=clock, emulator=emulator)
        first: Credential | str
        second: Credential | str
        if kind == "track":
            h.provision("counted", "track", "us", workspace="1")
            first, second = cio.new_track_key("1"), cio.new_track_key("1")
        else:
            h.provision("counted", "webhook_signing")
            first = '{"signing_key": "whsec-counted-first-0001"}'
            second = '{"signing_key": "whsec-counted-second-0002"}'
        h.submit("counted", first)
        counter = GcpCalls(emulator)
        clock.advance(timedelta(days=1))
        with counter.counting() as sweep_idle:
            h.sweep()
        clock.advance(timedelta(days=76))
        with counter.counting() as sweep_opening:
            h.sweep()
        assert h.state("counted").phase is Phase.AWAITING_KEY
        with counter.counting() as promotion:
            h.submit("counted", second)
        assert h.state("counted").phase is Phase.PROMOTED
    finally:
        emulator.stop()
    return GcpRotationCalls(
        sweep_idle=Counter(sweep_idle),
        sweep_opening=Counter(sweep_opening),
        promotion=Counter(promotion),
    )
