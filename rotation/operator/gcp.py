"""The operator's side on GCP: Secret Manager metadata, the inbox, the rotation topic, the logs.

- Status and state come from the live secret's labels and annotations
  (`secretmanager.secrets.get`, `versions.list`: roles/secretmanager.viewer).
- `submit` adds a version to the inbox (roles/secretmanager.secretVersionAdder);
  Secret Manager publishes SECRET_VERSION_ADD and the function verifies and
  promotes on its own: there is nothing to invoke.
- Actions (emergency, reconcile, rollback) are JSON messages published to the
  rotation topic (`pubsub.topics.publish`). The function runs them
  asynchronously, so the backend then watches the state for their effect.
- History (and `status`, for each key's last daily check) reads the function's
  structured log lines (`logging.logEntries.list`).

google-cloud-pubsub and google-cloud-logging are not dependencies: one REST call
each, through google-auth's AuthorizedSession (as rotation/notify_gcp.py does).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from rotation import conventions as cv
from rotation.errors import NotManaged
from rotation.operator.backend import (
    ALIVE_EVENT,
    LIVENESS_EVENTS,
    AuditEntry,
    CloudFailure,
    Details,
    NotFound,
    OperatorError,
    Trail,
    Waiting,
    liveness_entry,
    parse_audit_line,
    refuse_key_shaped_reason,
    trail_of,
)
from rotation.operator.config import CredentialRef, OperatorConfig
from rotation.state import Mode, Phase, format_time, summary
from rotation.stores.base import Snapshot
from rotation.transitions import emergency_changes

if TYPE_CHECKING:
    from rotation.operator.drain_view import Reading

T = TypeVar("T")
PUBSUB_ENDPOINT = "https://pubsub.googleapis.com"
LOGGING_ENDPOINT = "https://logging.googleapis.com"
MONITORING_ENDPOINT = "https://monitoring.googleapis.com"
# `status` reads a few days of daily checks, newest first: a page nearly always holds
# every credential's last one; this bounds the read when it does not.
TRAIL_PAGE_SIZE = 200
TRAIL_MAX_PAGES = 3
_PERMISSION_RE = re.compile(r"[Pp]ermission '?([a-z]+\.[a-zA-Z.]+)'? (?:denied|is required)")


def _fix_for(permission: str, what: str) -> str:
    return (
        f"Google Cloud denied {permission} while trying to {what}: your account lacks that "
        "permission. Use the account the stack lists as an operator (config `operators`), or "
        "ask the platform team to grant it and re-run `pulumi up`."
    )


def _translate(err: Exception, permission: str, what: str) -> Exception:
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    if isinstance(err, auth_exc.DefaultCredentialsError | auth_exc.RefreshError):
        return CloudFailure(
            f"No usable Google credentials to {what}: run `gcloud auth application-default "
            "login`, then run it again."
        )
    if isinstance(err, gexc.PermissionDenied):
        found = _PERMISSION_RE.search(str(err))
        return CloudFailure(_fix_for(found.group(1) if found else permission, what))
    if isinstance(err, gexc.Unauthenticated):
        return CloudFailure(
            f"Google Cloud does not accept your credentials to {what}: run "
            "`gcloud auth application-default login`, then run it again."
        )
    if isinstance(err, gexc.NotFound):
        return NotFound(
            f"Google Cloud found nothing to {what}. The outputs file may belong to another "
            "stack or project: refresh it with `pulumi stack output --json`."
        )
    if isinstance(err, gexc.GoogleAPICallError):
        return CloudFailure(f"Google Cloud refused to {what} ({type(err).__name__}); retry.")
    return err


class GcpBackend:
    """`Backend` on GCP, with an operator's permissions and nothing more."""

    def __init__(
        self,
        config: OperatorConfig,
        client: Any | None = None,
        session: Any | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        wait_seconds: float = 60.0,
        poll: float = 2.0,
        pubsub_endpoint: str = PUBSUB_ENDPOINT,
        logging_endpoint: str = LOGGING_ENDPOINT,
        monitoring_endpoint: str = MONITORING_ENDPOINT,
    ) -> None:
        self.config = config
        self._client = client
        self._session = session
        self.sleep = sleep
        self.wait_seconds = wait_seconds
        self.poll = poll
        self.pubsub_endpoint = pubsub_endpoint.rstrip("/")
        self.logging_endpoint = logging_endpoint.rstrip("/")
        self.monitoring_endpoint = monitoring_endpoint.rstrip("/")

    @cached_property
    def store(self) -> Any:
        from rotation.stores.gcp import GcpSecretStore, build_client

        with self._errors("secretmanager.secrets.get", "connect to Secret Manager"):
            return GcpSecretStore(
                self._client if self._client is not None else build_client(), read_payloads=False
            )

    @cached_property
    def session(self) -> Any:
        if self._session is not None:
            return self._session
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        with self._errors("pubsub.topics.publish", "find your Google credentials"):
            credentials, _ = google.auth.default(
                scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
        return AuthorizedSession(credentials)  # type: ignore[no-untyped-call]

    @contextmanager
    def _errors(self, permission: str, what: str) -> Iterator[None]:
        try:
            yield
        except NotManaged as err:
            raise NotFound(
                f"{err} Refresh the outputs file with `pulumi stack output --json`."
            ) from None
        except Exception as err:
            translated = _translate(err, permission, what)
            if translated is err:
                raise
            raise translated from None

    def _call(self, permission: str, what: str, fn: Callable[[], T]) -> T:
        with self._errors(permission, what):
            return fn()

    # -- Backend ------------------------------------------------------------------

    def snapshot(self, ref: CredentialRef, *, quick: bool = False) -> Snapshot:
        snap: Snapshot = self._call(
            "secretmanager.secrets.get",
            f"describe {ref.name}",
            lambda: self.store.snapshot(ref.secret_id),
        )
        return snap

    def warm(self) -> None:
        _ = self.store

    def status_read(self, ref: CredentialRef) -> tuple[Snapshot, Details]:
        """GetSecret (labels, annotations, the rotation schedule) and ListSecretVersions."""
        snap, secret = self._call(
            "secretmanager.secrets.get",
            f"describe {ref.name}",
            lambda: self.store.described_snapshot(ref.secret_id),
        )
        rotation = getattr(secret, "rotation", None)
        when = getattr(rotation, "next_rotation_time", None) if rotation else None
        if isinstance(when, datetime):
            when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
        return snap, Details(native_next_rotation=when if isinstance(when, datetime) else None)

    def hand_over(
        self, ref: CredentialRef, raw: bytes, actor: str, key_name: str = ""
    ) -> dict[str, Any] | None:
        """Add the inbox version; SECRET_VERSION_ADD sets the function going."""
        self._call(
            "secretmanager.versions.add",
            f"write the inbox of {ref.name}",
            lambda: self.store.write_submission(ref.secret_id, raw, actor=actor, key_name=key_name),
        )
        return None

    def invoke(self, ref: CredentialRef, action: str, **fields: Any) -> dict[str, Any]:
        # Checked before anything is read or published: a Pub/Sub message keeps its text.
        refuse_key_shaped_reason(fields)
        before = self.snapshot(ref)
        self._publish(ref, {"action": action, "secret_id": ref.secret_id, **fields})
        if action == cv.ACTION_EMERGENCY and not emergency_changes(
            before.state, fields.get("revoke_first") is True
        ):
            return _summary(before, cv.OUTCOME_ALREADY_OPEN)  # as the rotator answers on AWS
        settle = self.wait_seconds if action != cv.ACTION_RECONCILE else min(self.wait_seconds, 10)
        deadline = time.monotonic() + settle
        snap = before
        while True:
            snap = self.snapshot(ref)
            if _took_effect(action, before, snap):
                return _summary(snap, _OUTCOMES.get(action, action))
            if time.monotonic() >= deadline:
                break
            self.sleep(self.poll)
        if action == cv.ACTION_RECONCILE:
            return _summary(snap, "reconciled")  # nothing was due: also an answer
        raise Waiting(
            f"The {action} request for {ref.name} was published, but the function showed no "
            f"effect within {settle:g}s. It may still be running, or it refused (a rollback is "
            f"refused once Customer.io refuses the old key): see `cio-rotate history {ref.name}` "
            f"and the logs of {self.config.gcp_function_name or 'the rotation function'}."
        )

    def _publish(self, ref: CredentialRef, doc: dict[str, Any]) -> None:
        topic = self.config.gcp_topic
        if not topic:
            raise NotFound(
                "The rotation topic is unknown: pass --outputs (the stack outputs hold "
                "gcp_rotation_topic), or set CIO_GCP_ROTATION_TOPIC."
            )
        data = base64.b64encode(json.dumps(doc).encode("utf-8")).decode("ascii")
        what = f"publish {doc['action']} for {ref.name} to {topic}"
        response = self._call(
            "pubsub.topics.publish",
            what,
            lambda: self.session.post(
                f"{self.pubsub_endpoint}/v1/{topic}:publish",
                json={"messages": [{"data": data}]},
                timeout=(3.05, 20),
            ),
        )
        _check_http(response, "pubsub.topics.publish", what)

    def _entries(
        self, project: str, query: str, what: str, page_size: int, order: str = "desc"
    ) -> Iterator[list[tuple[AuditEntry, str]]]:
        """Pages of the function's audit lines that `query` finds, newest first (or
        oldest first with order "asc"), each with its entry's insertId."""
        if self.config.gcp_function_name:
            query = f'resource.labels.service_name="{self.config.gcp_function_name}" AND ({query})'
        token = ""
        while True:
            body: dict[str, Any] = {
                "resourceNames": [f"projects/{project}"],
                "filter": query,
                "orderBy": f"timestamp {order}",
                "pageSize": page_size,
            }
            if token:
                body["pageToken"] = token
            response = self._call(
                "logging.logEntries.list",
                what,
                lambda body=body: self.session.post(  # type: ignore[misc]
                    f"{self.logging_endpoint}/v2/entries:list", json=body, timeout=(3.05, 30)
                ),
            )
            _check_http(response, "logging.logEntries.list", what)
            page = response.json()
            parsed_page: list[tuple[AuditEntry, str]] = []
            for entry in page.get("entries", []):
                payload = entry.get("jsonPayload")
                line = (
                    json.dumps(payload)
                    if isinstance(payload, dict)
                    else entry.get("textPayload", "")
                )
                parsed = parse_audit_line(str(line), event_id=str(entry.get("insertId", "")))
                if parsed is not None:
                    parsed_page.append(parsed)
            yield parsed_page
            token = str(page.get("nextPageToken") or "")
            if not token:
                return

    def history(self, ref: CredentialRef, limit: int) -> list[AuditEntry]:
        name = ref.name.replace('"', "")
        query = (
            f'(jsonPayload.audit=true AND jsonPayload.credential="{name}") OR textPayload:"{name}"'
        )
        found: list[AuditEntry] = []
        what = f"read the audit trail of {ref.name}"
        for page in self._entries(_project(ref), query, what, min(max(limit, 1), 1000)):
            found += [entry for entry, owner in page if owner == ref.name]
            if len(found) >= limit:
                break
        return found[:limit]

    def liveness_trail(
        self, refs: Sequence[CredentialRef], since: datetime
    ) -> dict[str, list[AuditEntry]]:
        """Newest first, from `since`, the two liveness events only: it stops at the first
        page after which every credential has a `key.alive` (one page, nearly always)."""
        wanted = [ref.name for ref in refs]
        events = " OR ".join(f'jsonPayload.event="{event}"' for event in LIVENESS_EVENTS)
        texts = " OR ".join(f'textPayload:"{event}"' for event in LIVENESS_EVENTS)
        query = (
            f'timestamp>="{format_time(since)}" AND '
            f"((jsonPayload.audit=true AND ({events})) OR {texts})"
        )
        found: dict[str, list[AuditEntry]] = {}
        projects = sorted({_project(ref) for ref in refs})
        for project in projects:
            what = "read the daily checks in the audit trail"
            for n, page in enumerate(self._entries(project, query, what, TRAIL_PAGE_SIZE), 1):
                for parsed in page:
                    entry = liveness_entry(parsed, wanted, since)
                    if entry is not None:
                        found.setdefault(parsed[1], []).append(entry)
                alive = {name for name, items in found.items() if _has_alive(items)}
                if alive >= set(wanted) or n >= TRAIL_MAX_PAGES:
                    break
        return found

    def audit_trail(self, refs: Sequence[CredentialRef], since: datetime, until: datetime) -> Trail:
        """Every audit entry of the window, oldest first, all pages, per project. A failure
        part-way keeps what was read and says why in `problem`."""
        wanted = [ref.name for ref in refs]
        query = (
            f'timestamp>="{format_time(since)}" AND timestamp<"{format_time(until)}" AND '
            '(jsonPayload.audit=true OR textPayload:"audit")'
        )
        read: list[tuple[AuditEntry, str]] = []
        problems: list[str] = []
        for project in sorted({_project(ref) for ref in refs}):
            try:
                for page in self._entries(project, query, "read the audit trail", 1000, "asc"):
                    read += page
            except OperatorError as err:
                problems.append(str(err))
        events, earliest = trail_of(read, wanted, since, until)
        return Trail(events, " ".join(problems), earliest)

    def drain_evidence(
        self, ref: CredentialRef, fingerprints: Sequence[str], since: datetime, now: datetime
    ) -> Reading:
        """Cloud Monitoring's `cio_rotation/key_in_use` points (timeSeries.list, which needs
        monitoring.timeSeries.list) and the Data Access audit log of AccessSecretVersion
        (entries.list, which needs logging.privateLogEntries.list), through the rotator's
        own reader, in the secret's project."""
        from rotation.operator.drain_view import read_with
        from rotation.stores.usage import GcpUsageReader

        function = self.config.gcp_function_name
        return read_with(
            GcpUsageReader(
                self.session,
                _project(ref),
                monitoring_endpoint=self.monitoring_endpoint,
                logging_endpoint=self.logging_endpoint,
            ),
            ref.secret_id,
            fingerprints,
            since,
            now,
            # An HTTP error, a refused token: said, never raised.
            failures=(Exception,),
            reports_failed=lambda err: (
                "the key-usage reports (Cloud Monitoring "
                "timeSeries.list, which needs monitoring.timeSeries.list): " + _http_problem(err)
            ),
            audit_source="the Data Access audit log, which needs logging.privateLogEntries.list",
            # The function reads the live secret for its checks and holds no key for an
            # application: its reads are left out.
            ignore=(runtime_account(function, _project(ref)),) if function else (),
        )


def runtime_account(function_name: str, project: str) -> str:
    """The rotation function's runtime service account, as audit logs name it: the program
    names the function and its account alike, `<prefix>-rotator` (infra/gcp_component.py;
    tests/program/test_program_gcp.py keeps the two equal)."""
    return f"{function_name}@{project}.iam.gserviceaccount.com"


def _http_problem(err: Exception) -> str:
    """An HTTP failure by its status, else its type: a message might quote a request."""
    status = getattr(getattr(err, "response", None), "status_code", None)
    return f"HTTP {status}" if status else type(err).__name__


def _project(ref: CredentialRef) -> str:
    return ref.secret_id.split("/")[1] if ref.secret_id.startswith("projects/") else ""


def _has_alive(entries: list[AuditEntry]) -> bool:
    return any(entry.event == ALIVE_EVENT for entry in entries)


_OUTCOMES = {
    cv.ACTION_EMERGENCY: "emergency",
    cv.ACTION_ROLLBACK: "rolled_back",
    cv.ACTION_RECONCILE: "reconciled",
    cv.ACTION_RETIRE: "retiring",
}


def _took_effect(action: str, before: Snapshot, after: Snapshot) -> bool:
    st = after.state
    if action == cv.ACTION_EMERGENCY:
        return st.mode is Mode.EMERGENCY or st.follow_up_emergency
    if action == cv.ACTION_ROLLBACK:
        return bool(before.state.previous_fp) and st.current_fp == before.state.previous_fp
    if action == cv.ACTION_RETIRE:
        return st.phase in (Phase.RETIRING, Phase.RETIRED)
    return after.revision != before.revision


def _summary(snap: Snapshot, outcome: str) -> dict[str, Any]:
    """The same shape as the AWS rotator's answer (rotation.state.summary)."""
    return summary(snap.state, outcome)


def _check_http(response: Any, permission: str, what: str) -> None:
    status = int(getattr(response, "status_code", 0))
    if status < 300:
        return
    message = ""
    try:
        message = str(response.json().get("error", {}).get("message", ""))
    except ValueError:
        message = ""
    if status == 403:
        found = _PERMISSION_RE.search(message)
        raise CloudFailure(_fix_for(found.group(1) if found else permission, what))
    if status == 401:
        raise CloudFailure(
            f"Google Cloud does not accept your credentials to {what}: run "
            "`gcloud auth application-default login`."
        )
    if status == 404:
        raise NotFound(
            f"Google Cloud found nothing to {what} (404): refresh the outputs file with "
            "`pulumi stack output --json`."
        )
    raise CloudFailure(f"Google Cloud answered HTTP {status} while trying to {what}; retry.")
