"""The design's invariants, under random interleavings, on the engine with the GCP store.

A hypothesis state machine drives the Cloud Function's handler (the real
Secret Manager client and REST transport, in-process against the emulator) with
scheduled opens, emergencies, good / bad / duplicate submissions, redeliveries,
Customer.io faults, time passing, operators deleting old keys, and crashes
injected between two store writes followed by Pub/Sub's redelivery.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from lambdas.gcp_rotation import main
from localcloud.customerio import FakeCustomerIO
from localcloud.gcp_harness import (
    PROJECT,
    SUBSCRIPTION,
    in_process_client,
    in_process_customerio,
    pubsub_message,
)
from localcloud.secretmanager_emulator import SecretManagerEmulator
from rotation import conventions as cv
from rotation.clock import SimulatedClock
from rotation.credentials import Credential, Kind, Region, fingerprint
from rotation.runbook import Notification
from rotation.state import Phase, RotationState
from rotation.stores.gcp import GcpSecretStore
from rotation.verify import Verifier

NAME = "marketing-track"
LIVE = f"projects/{PROJECT}/secrets/{NAME}"
INBOX = f"{LIVE}-inbox"
WORKSPACE = "111"
WRITES = frozenset({"add_secret_version", "update_secret", "destroy_secret_version"})


class Crash(Exception):
    """The function instance died between two store writes."""


class CrashingClient:
    """The real client, except that the armed N-th write raises before it is sent."""

    def __init__(self, inner: Any, events: list[tuple[str, str]]) -> None:
        self.inner = inner
        self.events = events
        self.crash_at = 0
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            self.writes += 1
            if self.crash_at and self.writes >= self.crash_at:
                self.crash_at = 0
                self.events.append(("crash", name))
                raise Crash(f"injected crash before {name}")
            self.events.append(("write", name))
            return attr(*args, **kwargs)

        return write


class EventNotifier:
    def __init__(self, events: list[tuple[str, str]]) -> None:
        self.events = events
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.events.append(("send", notification.id))
        self.sent.append(notification)


class World:
    """What outlives one example: the emulator and the client (reset per example)."""

    emulator = SecretManagerEmulator()
    client: Any = None
    cio: FakeCustomerIO | None = None
    # The provisioned and bootstrapped project, restored for each example (saves most setup).
    template: tuple[dict[str, Any], Credential, dict[Any, Any]] | None = None


def provision(client: Any, clock: SimulatedClock) -> None:
    parent = f"projects/{PROJECT}"
    client.create_secret(
        request={
            "parent": parent,
            "secret_id": f"{NAME}-inbox",
            "secret": {
                "replication": {"automatic": {}},
                "annotations": {cv.GCP_ANNOTATION_INBOX_OF: LIVE},
            },
        }
    )
    client.create_secret(
        request={
            "parent": parent,
            "secret_id": NAME,
            "secret": {
                "replication": {"automatic": {}},
                "labels": {
                    cv.GCP_LABEL_MANAGED: "true",
                    cv.GCP_LABEL_CREDENTIAL: NAME,
                    cv.GCP_LABEL_KIND: "track",
                    cv.GCP_LABEL_REGION: "us",
                    cv.GCP_LABEL_WORKSPACE: WORKSPACE,
                },
                "annotations": {cv.GCP_ANNOTATION_INBOX: INBOX},
                "rotation": {
                    "next_rotation_time": clock.now() + timedelta(days=90),
                    "rotation_period": timedelta(days=90),
                },
            },
        }
    )


class GcpRotationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        cio = World.cio
        assert cio is not None
        cio.track_keys.clear()
        cio.app_keys.clear()
        cio.faults.clear()
        self.cio = cio
        self.clock = SimulatedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        World.emulator.reset()
        World.emulator.clock = self.clock.now
        if World.template is not None:
            World.emulator.secrets.update(copy.deepcopy(World.template[0]))
            cio.track_keys.update(World.template[2])
        self.events: list[tuple[str, str]] = []
        self.client = CrashingClient(World.client, self.events)
        self.notifier = EventNotifier(self.events)
        session, env = in_process_customerio(cio)
        self.rt = main.build_runtime(
            env=env,
            clock=self.clock,
            verifier=Verifier(session=session, env=env),
            client=self.client,
            notifier=self.notifier,
        )
        self.operator = GcpSecretStore(World.client, self.clock)
        self.verified: set[str] = set()  # keys Customer.io accepted for this workspace
        self.keys: dict[str, Credential] = {}
        self.may_repeat: set[str] = set()
        self.last: dict[str, Any] | None = None
        self.nacked: list[dict[str, Any]] = []
        self.rotation_id = ""
        self.checked = 0
        if World.template is None:
            provision(World.client, self.clock)
            first = self._new_good_key()
            assert self._submit(first.to_json())
            assert self._state().current_fp == first.fingerprint
            World.template = (copy.deepcopy(World.emulator.secrets), first, dict(cio.track_keys))
        else:
            first = World.template[1]
            self.verified.add(first.secret)
            self.keys[first.fingerprint] = first

    # -- plumbing --------------------------------------------------------------------

    def _new_good_key(self) -> Credential:
        cred = self.cio.new_track_key(WORKSPACE)
        self.verified.add(cred.secret)
        self.keys[cred.fingerprint] = cred
        return cred

    def _deliver(self, message: dict[str, Any]) -> bool:
        self.last = message
        start = len(self.events)
        try:
            main.handle({"message": message, "subscription": SUBSCRIPTION}, self.rt)
            ok = True
        except Exception:
            self.nacked.append(message)
            ok = False
        # Crashed between sending and marking sent: every notice sent since the last write
        # (delivery sends a claimed batch, then marks it in one write) may repeat. The crash
        # may surface as itself, or wrapped (the sweep reports a failed credential), or not
        # at all; so look at what happened, not at what was raised.
        for i in range(start, len(self.events)):
            if self.events[i][0] == "crash":
                for kind, what in reversed(self.events[:i]):
                    if kind != "send":
                        break
                    self.may_repeat.add(what)
        return ok

    def _submit(self, raw: str) -> bool:
        self.operator.write_submission(LIVE, raw.encode("utf-8"))
        added = pubsub_message({"eventType": "SECRET_VERSION_ADD", "secretId": INBOX}, {})
        return self._deliver(added)

    def _latest(self) -> bytes | None:
        secret = World.emulator.secrets[LIVE]
        return secret.versions[max(secret.versions)].payload if secret.versions else None

    def _state(self) -> RotationState:
        annotations = World.emulator.secrets[LIVE].annotations
        prefix = cv.GCP_STATE_PREFIX
        return RotationState.from_fields(
            {k[len(prefix) :]: v for k, v in annotations.items() if k.startswith(prefix)}
        )

    def _inbox_pending(self) -> bool:
        return any(v.state == "ENABLED" for v in World.emulator.secrets[INBOX].versions.values())

    # -- rules -----------------------------------------------------------------------

    @rule(kind=st.sampled_from(["good", "wrong_workspace", "malformed", "unknown", "same"]))
    def submit(self, kind: str) -> None:
        before = self._latest()
        pending = self._inbox_pending() or bool(self.nacked)
        if kind == "good":
            raw = self._new_good_key().to_json()
        elif kind == "wrong_workspace":
            raw = self.cio.new_track_key("222").to_json()
        elif kind == "unknown":
            raw = Credential(Kind.TRACK, "k" * 20, Region.US, "s" * 20).to_json()
        elif kind == "same":
            raw = (before or b"{}").decode()
        else:
            raw = '{"site_id": 1}'
        acknowledged = self._submit(raw)
        if kind != "good" and not pending:
            assert self._latest() == before, "a refused key touched the current version"
        if not acknowledged and not pending:
            # Inconclusive (Customer.io faulted): retried later, current untouched meanwhile.
            assert self._latest() == before, "an inconclusive verification touched current"

    @rule()
    def duplicate_delivery(self) -> None:
        if self.last is not None:
            self._deliver(self.last)

    @rule()
    def pubsub_redelivers(self) -> None:
        pending, self.nacked = self.nacked, []
        for message in pending:
            self._deliver(message)

    @rule(status=st.sampled_from([503, 429, 500]), times=st.integers(1, 2))
    def customerio_fault(self, status: int, times: int) -> None:
        self.cio.fail_next(status, times=times)

    @rule(hours=st.sampled_from([1, 24, 72, 24 * 20]))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    @rule()
    def scheduled_open(self) -> None:
        self._deliver(pubsub_message({"eventType": "SECRET_ROTATE", "secretId": LIVE}, {}))

    @rule(revoke_first=st.booleans())
    def emergency(self, revoke_first: bool) -> None:
        doc = {
            "action": "emergency",
            "secret_id": LIVE,
            "reason": "drill",
            "revoke_first": revoke_first,
        }
        self._deliver(pubsub_message({}, doc))

    @rule()
    def sweep(self) -> None:
        faults = bool(self.cio.faults)
        ok = self._deliver(pubsub_message({}, {"action": "sweep", "secret_ids": [LIVE]}))
        if ok and not faults:
            state = self._state()
            secret = World.emulator.secrets[LIVE]
            assert state.current_version == str(max(secret.versions)), "sweep left state behind"

    @rule()
    def operator_deletes_old_key(self) -> None:
        old = self.keys.get(self._state().previous_fp)
        if old is not None:
            self.cio.delete_key(old)

    @rule(
        n=st.integers(1, 8),
        what=st.sampled_from(["good", "sweep", "emergency"]),
    )
    def crash_between_writes_then_rerun(self, n: int, what: str) -> None:
        self.client.writes = 0
        self.client.crash_at = n
        if what == "good":
            ok = self._submit(self._new_good_key().to_json())
        elif what == "sweep":
            ok = self._deliver(pubsub_message({}, {"action": "sweep", "secret_ids": [LIVE]}))
        else:
            doc = {"action": "emergency", "secret_id": LIVE, "reason": "leak", "actor": "x"}
            ok = self._deliver(pubsub_message({}, doc))
        self.client.crash_at = 0
        if not ok:
            self.nacked.remove(self.last)  # type: ignore[arg-type]
            assert self.last is not None
            self._deliver(self.last)  # Pub/Sub redelivers; the re-run repairs

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        """Checked after every step (one state read, straight from the emulator)."""
        secret = World.emulator.secrets[LIVE]
        enabled: set[str] = set()
        for version in secret.versions.values():
            # Nothing reaches the live secret unverified, and current is a verified key.
            # Versions a closed rotation left behind are DISABLED (consumers read only the
            # current one), never destroyed: a rollback could still need one.
            assert version.payload is not None and version.state in ("ENABLED", "DISABLED")
            doc = json.loads(version.payload)
            assert doc["api_key"] in self.verified, "an unverified key reached the live secret"
            if version.state == "ENABLED":
                enabled.add(doc["api_key"])
        state = self._state()
        if state.current_fp:
            key = self.keys.get(state.current_fp)
            assert key is not None and fingerprint(key.secret) == state.current_fp
            assert key.secret in enabled, "the current key's version is not readable"
        # One rotation at a time: a new rotation id only after the previous one closed.
        assert (state.phase is Phase.IDLE) == (state.rotation_id == "")
        if self.rotation_id and state.rotation_id and state.rotation_id != self.rotation_id:
            assert state.last_rotation_id == self.rotation_id, "a second rotation was opened"
        self.rotation_id = state.rotation_id
        # One notification per step, except after a crash between sending and marking it.
        if len(self.notifier.sent) != self.checked:
            self.checked = len(self.notifier.sent)
            counts = Counter(n.id for n in self.notifier.sent)
            repeated = {i for i, c in counts.items() if c > 1} - self.may_repeat
            assert not repeated, f"notified more than once: {sorted(repeated)}"


@pytest.fixture
def world(cio_server, emulator_server):
    World.cio = cio_server
    if World.client is None:
        World.client = in_process_client(World.emulator)
    yield World
    cio_server.faults.clear()


def test_gcp_rotation_invariants(world):
    machine = GcpRotationMachine.TestCase
    machine.settings = settings(
        settings.default,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    machine().runTest()
