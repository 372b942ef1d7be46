"""DESIGN.md's invariants under random interleavings, on the moto-backed store.

A hypothesis state machine plays schedules, emergencies, good/bad/duplicate
submissions, duplicate and racing deliveries, Customer.io faults, time passing,
and crashes injected after any store write (the next invocation must repair
them). After every step it checks the invariants; at the end it lets the system
recover and checks that nothing was lost.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from moto import mock_aws

from lambdas.aws_rotation import handler as rotator
from localcloud.aws_harness import FUNCTION, AwsHarness
from localcloud.customerio import FakeCustomerIO
from rotation.clock import SimulatedClock
from rotation.credentials import Credential, Kind, Region
from rotation.engine import Engine
from rotation.state import Phase
from rotation.stores.aws import AwsSecretsStore
from rotation.verify import VerifiedKey, Verifier

NAME = "inv-track"
WRITES = ("save_state", "consume_submission", "promote", "stage_pending", "abandon_pending")
_cio: FakeCustomerIO | None = None


def customerio() -> FakeCustomerIO:
    global _cio
    if _cio is None:
        _cio = FakeCustomerIO().start()
    return _cio


class Crash(Exception):
    """The process died right after a store write landed."""


class FaultyStore(AwsSecretsStore):
    """The real AWS store, with a crash or a racing invocation injected at a chosen write."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.crash_after: int | None = None
        self.race_before: int | None = None
        self.racer: Any = None
        self.crashes = 0

    def _write(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.race_before is not None:
            self.race_before -= 1
            if self.race_before < 0:
                self.race_before = None
                self.racer()  # another invocation runs to completion between our read and write
        result = getattr(AwsSecretsStore, name)(self, *args, **kwargs)
        if self.crash_after is not None:
            self.crash_after -= 1
            if self.crash_after < 0:
                self.crash_after = None
                self.crashes += 1
                raise Crash(name)
        return result


for _name in WRITES:
    setattr(
        FaultyStore,
        _name,
        (lambda n: lambda self, *a, **k: self._write(n, *a, **k))(_name),
    )


class RecordingVerifier(Verifier):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.verified: set[str] = set()

    def verify(self, candidate: Credential, *args: Any, **kwargs: Any) -> VerifiedKey:
        result = super().verify(candidate, *args, **kwargs)
        self.verified.add(candidate.fingerprint)
        return result


class Rotations(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.mock = mock_aws()
        self.mock.start()
        self.cio = customerio()
        self.cio.track_keys.clear()
        self.cio.faults.clear()
        self.clock = SimulatedClock(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))
        self.h = AwsHarness(cio=self.cio, clock=self.clock)
        self.ctx = self.h.runtime.active()
        self.ctx.__enter__()
        self.store = FaultyStore(self.h.sm)
        engine = self.h.rt.engine
        engine.store = self.store
        self.verifier = RecordingVerifier(env=self.cio.env())
        self.verifier.session = engine.verifier.session
        engine.verifier = self.verifier
        self.h.rt = rotator.Runtime(engine=engine, store=self.store)
        # A racing invocation is another Lambda: its own store (and session), same account.
        racer_store = AwsSecretsStore(self.h.sm)
        self.racer_rt = rotator.Runtime(
            engine=Engine(
                store=racer_store,
                verifier=self.verifier,
                notifier=engine.notifier,
                clock=self.clock,
                policy=engine.policy,
                cli=engine.cli,
            ),
            store=racer_store,
        )
        self.events: list[dict[str, Any]] = []
        self.h.runtime.register(FUNCTION, self._deliver)
        self.keys: list[Credential] = []
        self.refused: set[str] = set()  # fingerprints of keys that must never become current
        self.secrets_seen: list[str] = []

    def _deliver(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        return rotator.handle(event, self.h.rt)

    def teardown(self) -> None:
        self.ctx.__exit__(None, None, None)
        self.mock.stop()

    # -- helpers ---------------------------------------------------------------------

    def _key(self, workspace: str = "1001", region: str = "us") -> Credential:
        key = self.cio.new_track_key(workspace, region)
        self.keys.append(key)
        return key

    def _quietly(self, action: Any) -> None:
        # A crash surfaces as a failed invocation; the next one repairs.
        with contextlib.suppress(Crash, RuntimeError):
            action()

    def _current(self) -> str | None:
        value = self.h.current_value(NAME)
        if value is None:
            return None
        return Credential(Kind.TRACK, value["api_key"], Region.US, value["site_id"]).fingerprint

    # -- rules -------------------------------------------------------------------------

    @initialize()
    def bootstrap(self) -> None:
        self.h.provision(NAME, "track", "us", workspace="1001")
        self.h.submit(NAME, self._key())
        assert self._current() is not None

    @rule(days=st.sampled_from([1, 3, 10, 30, 76]))
    def time_passes(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    @rule(minutes=st.sampled_from([5, 20, 61]))
    def minutes_pass(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @rule()
    def daily_sweep(self) -> None:
        self._quietly(self.h.sweep)

    @rule(revoke_first=st.booleans())
    def emergency(self, revoke_first: bool) -> None:
        event = {
            "action": "emergency",
            "secret_id": self.h.secrets[NAME],
            "reason": "drill",
            "revoke_first": revoke_first,
        }
        self._quietly(lambda: self.h.invoke(event))

    @rule(
        kind=st.sampled_from(
            ["good", "wrong_workspace", "wrong_region", "bogus", "same", "malformed"]
        )
    )
    def submit(self, kind: str) -> None:
        if kind == "good":
            payload: Credential | str = self._key()
        elif kind == "wrong_workspace":
            payload = self._key("2002")
        elif kind == "wrong_region":
            payload = self._key("1001", "eu")
        elif kind == "bogus":
            payload = Credential(Kind.TRACK, "b" * 20, Region.US, "c" * 20)
        elif kind == "same":
            value = self.h.current_value(NAME) or {}
            payload = json.dumps(value)
        else:
            payload = '{"site_id": "x"}'
        if isinstance(payload, Credential) and kind != "good":
            self.refused.add(payload.fingerprint)
        self._quietly(lambda: self.h.submit(NAME, payload))
        # A staged, verified earlier submission may complete now; a refused key never does.
        assert self._current() not in self.refused, "a refused key became current"

    @rule()
    def duplicate_delivery(self) -> None:
        if self.events:
            self._quietly(lambda: self.h.invoke(self.events[-1]))

    @rule(at=st.integers(0, 3))
    def racing_invocation(self, at: int) -> None:
        """A second invocation of the same event runs between the first one's read and write."""
        if not self.events:
            return
        event = dict(self.events[-1])
        self.store.race_before = at
        self.store.racer = lambda: self._quietly(lambda: rotator.handle(event, self.racer_rt))
        self._quietly(lambda: self.h.invoke(event))
        self.store.race_before = None

    @rule(at=st.integers(0, 6))
    def crash_after_a_write(self, at: int) -> None:
        self.store.crash_after = at

    @rule(status=st.sampled_from([429, 500, 503]))
    def customerio_fault(self, status: int) -> None:
        self.cio.fail_next(status, times=4, retry_after="0" if status == 429 else None)

    @rule()
    def operator_deletes_old_key(self) -> None:
        fp = self.store.snapshot(self.h.secrets[NAME]).state.previous_fp
        for key in self.keys:
            if key.fingerprint == fp:
                self.cio.delete_key(key)

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def current_was_verified(self) -> None:
        fp = self._current()
        assert fp is None or fp in self.verifier.verified, "current key never passed verification"

    @invariant()
    def pending_holds_nothing_or_a_verified_key(self) -> None:
        snap = self.store.snapshot(self.h.secrets[NAME])
        if snap.pending_version:
            raw = self.store.read_value(snap.config.id, snap.pending_version)
            if raw is not None:
                doc = json.loads(raw)
                fp = Credential(Kind.TRACK, doc["api_key"], Region.US, doc["site_id"]).fingerprint
                assert fp in self.verifier.verified

    @invariant()
    def one_notice_per_step(self) -> None:
        ids = Counter(n.get("notification_id") for n in self.h.notifications())
        duplicates = sum(c - 1 for c in ids.values())
        assert duplicates <= self.store.crashes, ids.most_common(3)

    @invariant()
    def one_open_rotation(self) -> None:
        ids = [str(n.get("notification_id", "")).split("/") for n in self.h.notifications()]
        opened = Counter(parts[0] for parts in ids if len(parts) > 1 and parts[1] == "opened")
        assert all(c <= 1 + self.store.crashes for c in opened.values()), opened
        st_ = self.store.snapshot(self.h.secrets[NAME]).state
        if st_.phase is not Phase.IDLE:
            assert st_.rotation_id

    @invariant()
    def no_key_in_tags_or_notices(self) -> None:
        emitted = json.dumps(self.h.notifications()) + json.dumps(self.h.tags(NAME))
        for key in self.keys:
            assert key.secret not in emitted and (key.site_id or "") not in emitted

    def check_recovery(self) -> None:
        """Called last: with faults gone, the next invocations repair everything."""
        self.store.crash_after = None
        self.cio.faults.clear()
        self.clock.advance(timedelta(minutes=10))  # past any send lease
        self.h.sweep()
        self.h.sweep()
        snap = self.store.snapshot(self.h.secrets[NAME])
        assert snap.current_version == snap.state.current_version, "promotion not recorded"
        assert not snap.state.outbox, f"notices never delivered: {snap.state.outbox}"


class RotationsWithRecovery(Rotations):
    def teardown(self) -> None:
        try:
            self.check_recovery()
        finally:
            super().teardown()


TestRotationInvariants = RotationsWithRecovery.TestCase
