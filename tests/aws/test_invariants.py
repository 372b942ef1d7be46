"""DESIGN.md's invariants under random interleavings, on the moto-backed store.

A hypothesis state machine plays schedules, emergencies, good/bad/duplicate
submissions, duplicate and racing deliveries, Customer.io faults, time passing,
and crashes injected after any store write (the next invocation must repair
them). After every step it checks the invariants; at the end it lets the system
recover and checks that nothing was lost.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends

from lambdas.aws_rotation import handler as rotator
from localcloud.aws_harness import FUNCTION, PREFIX, REGION, AwsHarness
from localcloud.customerio import FakeCustomerIO
from localcloud.gcp_harness import in_process_customerio
from rotation import conventions as cv
from rotation.clock import SimulatedClock
from rotation.credentials import Credential, Kind, Region
from rotation.engine import Engine
from rotation.notify import FanOut, SnsNotifier
from rotation.state import Phase, RotationState
from rotation.stores.aws import AwsSecretsStore
from rotation.verify import VerifiedKey, Verifier

NAME = "inv-track"
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
WRITES = ("save_state", "consume_submission", "promote", "stage_pending", "abandon_pending")
# A seed that once made `one_notice_per_step` fail (issue 9): run on every CI run.
REGRESSION_SEED = 214177093805574904277814346743437651882


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


class World:
    """What outlives one example: moto with the account (role, function, topic, clients),
    and the provisioned, bootstrapped credential that each example starts from."""

    h: AwsHarness | None = None
    cio: FakeCustomerIO | None = None
    secrets: ClassVar[dict[str, Any]] = {}  # moto's secrets after bootstrap (restored per example)
    first: Credential | None = None
    track_keys: ClassVar[dict[Any, Any]] = {}
    submitted: ClassVar[list[str]] = []

    @staticmethod
    def backend() -> Any:
        return secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION]


def _runtime(store: AwsSecretsStore, verifier: Verifier, clock: SimulatedClock) -> Any:
    """One Lambda's wiring (as `rotator.build_runtime`), on the account's shared clients."""
    h = World.h
    assert h is not None
    engine = Engine(
        store=store,
        verifier=verifier,
        notifier=FanOut([SnsNotifier(h.topic_arn, h.sns)]),
        clock=clock,
        policy=h.policy,
        cli=cv.CLI_NAME,
    )
    return rotator.Runtime(engine=engine, store=store)


class Rotations(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        h, cio, first = World.h, World.cio, World.first
        assert h is not None and cio is not None and first is not None, "use the world fixture"
        # Back to the bootstrapped account: secrets, topic, runtime records, Customer.io keys.
        World.backend().secrets.clear()
        World.backend().secrets.update(copy.deepcopy(World.secrets))
        sns_backends[DEFAULT_ACCOUNT_ID][REGION].topics[h.topic_arn].sent_notifications.clear()
        h.runtime.rotation_events.clear()
        h.runtime.errors.clear()
        h.submitted_secrets = list(World.submitted)
        cio.reset()
        cio.track_keys.update(World.track_keys)
        self.h, self.cio = h, cio
        self.clock = SimulatedClock(START)
        # Customer.io in-process, tried 4 times per probe like the rotator's own session.
        session, env = in_process_customerio(cio, attempts=4)
        self.verifier = RecordingVerifier(session=session, env=env)
        self.verifier.verified.add(first.fingerprint)  # the world fixture's submit verified it
        self.store = FaultyStore(h.sm)
        h.rt = _runtime(self.store, self.verifier, self.clock)
        # A racing invocation is another Lambda: its own store (and session), same account.
        self.racer_rt = _runtime(AwsSecretsStore(h.sm), self.verifier, self.clock)
        self.events: list[dict[str, Any]] = []
        h.runtime.register(FUNCTION, self._deliver)
        self.keys: list[Credential] = [first]
        self.refused: set[str] = set()  # fingerprints of keys that must never become current
        self.secrets_seen: list[str] = []

    def _deliver(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        return rotator.handle(event, self.h.rt)

    # -- helpers ---------------------------------------------------------------------

    def _key(self, workspace: str = "1001", region: str = "us") -> Credential:
        key = self.cio.new_track_key(workspace, region)
        self.keys.append(key)
        return key

    def _quietly(self, action: Any) -> None:
        # A crash surfaces as a failed invocation; the next one repairs.
        with contextlib.suppress(Crash, RuntimeError):
            action()

    @staticmethod
    def _racing(action: Any) -> None:
        # The racer is another Lambda invocation: whatever it raises fails it alone
        # (Lambda reports it), never the invocation it raced with.
        with contextlib.suppress(Exception):
            action()

    # What the account holds, read from moto's backend (no boto3 round trip per check).

    def _versions(self) -> dict[str, dict[str, Any]]:
        return dict(World.backend().secrets[self.h.secrets[NAME]].versions)

    def _value(self, stage: str) -> dict[str, str] | None:
        for version in self._versions().values():
            stages = version["version_stages"]
            if stage in stages and (stage == "AWSCURRENT" or "AWSCURRENT" not in stages):
                text = version.get("secret_string")
                return dict(json.loads(text)) if text else None
        return None

    def _current(self) -> str | None:
        return _fingerprint(self._value("AWSCURRENT"))

    def _state(self) -> RotationState:
        state_doc = World.backend().secrets[f"{PREFIX}/{NAME}/state"]
        for version in state_doc.versions.values():
            if "AWSCURRENT" in version["version_stages"]:
                doc = json.loads(version["secret_string"])
                return RotationState.from_fields({k: str(v) for k, v in doc["fields"].items()})
        return RotationState.from_fields({})

    def _tags(self) -> dict[str, str]:
        tags = World.backend().secrets[self.h.secrets[NAME]].tags or []
        return {t["Key"]: t["Value"] for t in tags}

    # -- rules -------------------------------------------------------------------------

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
            payload = json.dumps(self._value("AWSCURRENT") or {})
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
        self.store.racer = lambda: self._racing(lambda: rotator.handle(event, self.racer_rt))
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
        fp = self._state().previous_fp
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
        fp = _fingerprint(self._value("AWSPENDING"))
        assert fp is None or fp in self.verifier.verified, "an unverified key was staged"

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
        st_ = self._state()
        if st_.phase is not Phase.IDLE:
            assert st_.rotation_id

    @invariant()
    def no_key_in_tags_or_notices(self) -> None:
        emitted = json.dumps(self.h.notifications()) + json.dumps(self._tags())
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
        self.check_recovery()


@seed(REGRESSION_SEED)
class RotationsAtTheRegressionSeed(RotationsWithRecovery):
    """The same machine, replayed from the seed of the issue-9 regression."""


def _fingerprint(value: dict[str, str] | None) -> str | None:
    if value is None:
        return None
    return Credential(Kind.TRACK, value["api_key"], Region.US, value["site_id"]).fingerprint


@pytest.fixture(scope="module")
def world(cio_server: FakeCustomerIO) -> Iterator[type[World]]:
    """One moto account for every example: provisioned and bootstrapped once, then restored."""
    cio_server.reset()
    with mock_aws():
        h = AwsHarness(cio=cio_server, clock=SimulatedClock(START))
        with h.runtime.active():
            h.provision(NAME, "track", "us", workspace="1001")
            first = cio_server.new_track_key("1001", "us")
            assert h.submit(NAME, first) == {"outcome": "submitted"}
            assert h.current_value(NAME) is not None
            World.h, World.cio, World.first = h, cio_server, first
            World.secrets = copy.deepcopy(dict(World.backend().secrets))
            World.track_keys = dict(cio_server.track_keys)
            World.submitted = list(h.submitted_secrets)
            try:
                yield World
            finally:
                World.h = World.cio = World.first = None
    cio_server.reset()


def test_rotation_invariants(world: type[World]) -> None:
    run_state_machine_as_test(
        RotationsWithRecovery, settings=settings(settings.default, deadline=None)
    )


def test_rotation_invariants_at_the_regression_seed(world: type[World]) -> None:
    """The issue's seed, replayed with the example budget it failed under (the ci profile's
    200 then); breadth comes from the random-seed run above, which CI runs at 500."""
    run_state_machine_as_test(
        RotationsAtTheRegressionSeed,
        settings=settings(
            settings.default,
            deadline=None,
            database=None,
            max_examples=min(settings().max_examples, 200),
        ),
    )
