"""A small local Secret Manager (v1 REST) for the real `google-cloud-secret-manager` client.

Only the methods the GCP store uses, with the semantics of the public REST
reference (checked against it, not guessed):

- `secrets`: create (`?secretId=`, 409 ALREADY_EXISTS on a duplicate), get, patch
  (`updateMask` required; an `etag` in the body that is not the stored one fails
  with HTTP 400 FAILED_PRECONDITION, the way the etags page documents it; every
  patch gets a new etag), labels / annotations / version aliases validated by the
  documented rules, topics, rotation.
- `versions`: `:addVersion` (payload base64; `dataCrc32c` verified, 400 on a
  mismatch; stored checksum returned on access), get and `:access` by number,
  `latest` (the most recently created version, whatever its state: accessing it
  when that one is disabled fails, as the API does) or an alias; list (newest
  first, `filter=state:ENABLED`, paging); `:enable` / `:disable` / `:destroy`
  (numbers only, optional etag; DESTROYED is terminal, payload wiped).
- Errors in Google's JSON shape `{"error": {"code", "message", "status"}}`.
- The per-project quota on metadata reads (every GET but `:access`), when `read_quota`
  is set: past it in any 60 s of `clock`, 429 RESOURCE_EXHAUSTED.
- Adding a version or changing a version does not change the secret's etag (and
  vice versa): "a modification request only updates the ETag of the resource to
  which it applies".
- Event notifications: every change publishes a message to the secret's topics
  (attributes eventType, secretId, versionId, dataFormat JSON_API_V1, timestamp;
  data the resource as JSON), kept in `published`; `fire_rotations()` publishes
  SECRET_ROTATE for secrets whose next_rotation_time has come and moves it on.

The emulator keeps payloads in memory only and never logs them.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from localcloud.served import Served, loopback_server

STATES = {"ENABLED": 1, "DISABLED": 2, "DESTROYED": 3}
MAX_PAYLOAD = 64 * 1024
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_ANNOTATION_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_PATH = re.compile(
    r"^/v1/projects/(?P<project>[^/:]+)/secrets"
    r"(?:/(?P<secret>[^/:]+)(?:/versions(?:/(?P<version>[^/:]+))?)?)?(?::(?P<verb>[A-Za-z]+))?$"
)


def crc32c(data: bytes) -> int:
    """Bitwise CRC-32C (Castagnoli); deliberately not the store's table implementation."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


class ApiError(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


_MINUTE = timedelta(minutes=1)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(value: str) -> datetime:
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


def _duration(value: str) -> timedelta:
    if not value.endswith("s"):
        raise ApiError(400, "INVALID_ARGUMENT", f"invalid duration {value!r}")
    return timedelta(seconds=float(value[:-1]))


def _snake(path: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), path)


def _etag() -> str:
    return f'"{uuid.uuid4().hex[:14]}"'


@dataclass
class _Version:
    number: int
    created: datetime
    payload: bytes | None
    crc: int
    state: str = "ENABLED"
    etag: str = field(default_factory=_etag)
    destroyed: datetime | None = None


@dataclass
class _Secret:
    name: str
    created: datetime
    replication: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    topics: list[dict[str, str]] = field(default_factory=list)
    rotation: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    etag: str = field(default_factory=_etag)
    versions: dict[int, _Version] = field(default_factory=dict)


@dataclass
class SecretManagerEmulator(Served):
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    server: HTTPServer = field(default_factory=loopback_server)
    secrets: dict[str, _Secret] = field(default_factory=dict)
    published: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    # Secret Manager's per-project quota on metadata reads (every GET but `:access`), per
    # minute: None admits all; a number refuses what passes it with 429 RESOURCE_EXHAUSTED
    # (counted over any 60 s of `clock`, stricter than a calendar minute).
    read_quota: int | None = None
    metadata_reads: list[datetime] = field(default_factory=list)  # admitted, oldest first
    quota_refused: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def _add_routes(self) -> None:
        self.server.expect_request(re.compile(r"^/v1/.*")).respond_with_handler(self._handle)

    @property
    def endpoint(self) -> str:
        return self.address

    def reset(self) -> None:
        with self._lock:
            self.secrets.clear()
            self.published.clear()
            self.requests.clear()
            self.metadata_reads.clear()
            self.quota_refused = 0
            self.read_quota = None

    # -- what the platform does by itself ---------------------------------------

    def fire_rotations(self) -> list[dict[str, Any]]:
        """Secret Manager's scheduler: SECRET_ROTATE when next_rotation_time has come."""
        fired = []
        with self._lock:
            now = self.clock()
            for secret in self.secrets.values():
                nxt = secret.rotation.get("nextRotationTime")
                period = secret.rotation.get("rotationPeriod")
                if not nxt or not period or _parse_ts(nxt) > now:
                    continue
                fired.append(self._publish(secret, "SECRET_ROTATE", None))
                secret.rotation["nextRotationTime"] = _ts(_parse_ts(nxt) + _duration(period))
        return fired

    # -- HTTP ----------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        status, text = self.dispatch(
            request.method, request.path, request.args.to_dict(), request.get_data()
        )
        return Response(text, status=status, content_type="application/json")

    def dispatch(
        self, method: str, path: str, args: Mapping[str, str], body: bytes
    ) -> tuple[int, str]:
        """One REST call: (HTTP status, JSON text). The HTTP server and in-process tests share it."""
        int_enums = "enum-encoding=int" in args.get("$alt", "")
        try:
            with self._lock:
                if method == "GET" and not path.endswith(":access"):
                    self._count_read()
                answer = self._route(method, path, args, body)
            status = 200
            text = json.dumps(self._encode(answer, int_enums))
        except ApiError as err:
            status = err.code
            text = json.dumps(
                {"error": {"code": err.code, "message": err.message, "status": err.status}}
            )
        self.requests.append((method, path, status))
        return status, text

    def _count_read(self) -> None:
        now = self.clock()
        if self.read_quota is not None:
            recent = sum(1 for t in self.metadata_reads[-self.read_quota :] if now - t < _MINUTE)
            if recent >= self.read_quota:
                self.quota_refused += 1
                raise ApiError(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Quota exceeded for quota metric 'Read requests' and limit 'Read requests "
                    "per minute per project'",
                )
        self.metadata_reads.append(now)

    def peak_reads_per_minute(self) -> int:
        """The most metadata reads admitted in any 60 s."""
        peak, first = 0, 0
        for last, at in enumerate(self.metadata_reads):
            while at - self.metadata_reads[first] >= _MINUTE:
                first += 1
            peak = max(peak, last - first + 1)
        return peak

    def _encode(self, body: Any, int_enums: bool) -> Any:
        if isinstance(body, dict):
            return {
                k: (STATES[v] if k == "state" and int_enums else self._encode(v, int_enums))
                for k, v in body.items()
            }
        if isinstance(body, list):
            return [self._encode(v, int_enums) for v in body]
        return body

    def _route(
        self, method: str, path: str, args: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        match = _PATH.match(unquote(path))
        if match is None:
            raise ApiError(404, "NOT_FOUND", f"no such method: {path}")
        project, secret_id, version, verb = match.group("project", "secret", "version", "verb")
        doc: dict[str, Any] = {}
        if body:
            try:
                doc = json.loads(body)
            except ValueError:
                raise ApiError(400, "INVALID_ARGUMENT", "request body is not JSON") from None
        parent = f"projects/{project}"
        if secret_id is None:
            if method == "POST" and verb is None:
                return self._create(parent, args.get("secretId", ""), doc)
            if method == "GET" and verb is None:
                return self._list_secrets(parent, args)
            raise ApiError(404, "NOT_FOUND", "method not emulated")
        name = f"{parent}/secrets/{secret_id}"
        is_versions = "/versions" in path
        if not is_versions:
            if method == "GET" and verb is None:
                return self._secret_json(self._secret(name))
            if method == "PATCH" and verb is None:
                return self._patch(name, args.get("updateMask", ""), doc)
            if method == "POST" and verb == "addVersion":
                return self._add_version(name, doc)
            raise ApiError(404, "NOT_FOUND", "method not emulated")
        if version is None:
            if method == "GET":
                return self._list_versions(name, args)
            raise ApiError(404, "NOT_FOUND", "method not emulated")
        if method == "GET" and verb is None:
            return self._version_json(name, self._version(name, version, aliases=True))
        if method == "GET" and verb == "access":
            return self._access(name, version)
        if method == "POST" and verb in ("enable", "disable", "destroy"):
            return self._transition(name, version, verb, doc)
        raise ApiError(404, "NOT_FOUND", "method not emulated")

    # -- secrets ---------------------------------------------------------------------

    def _secret(self, name: str) -> _Secret:
        secret = self.secrets.get(name)
        if secret is None:
            raise ApiError(404, "NOT_FOUND", f"Secret [{name}] not found or has no versions.")
        return secret

    def _list_secrets(self, parent: str, args: Mapping[str, str]) -> dict[str, Any]:
        """secrets.list of a project, one page; the filter `labels.KEY=VALUE` (the one the
        operator CLI's discovery sends) or none."""
        wanted = (args.get("filter") or "").strip()
        label: tuple[str, str] | None = None
        if wanted:
            found = re.fullmatch(r"labels\.([a-z0-9_-]+)=([a-z0-9_-]*)", wanted)
            if found is None:
                raise ApiError(400, "INVALID_ARGUMENT", "only labels.KEY=VALUE is emulated")
            label = (found.group(1), found.group(2))
        secrets = [
            self._secret_json(s)
            for name, s in sorted(self.secrets.items())
            if name.startswith(parent + "/")
            and (label is None or s.labels.get(label[0]) == label[1])
        ]
        return {"secrets": secrets, "totalSize": len(secrets)}

    def _create(self, parent: str, secret_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        if not _SECRET_ID.match(secret_id):
            raise ApiError(400, "INVALID_ARGUMENT", "secret_id must match [a-zA-Z0-9_-]{1,255}")
        name = f"{parent}/secrets/{secret_id}"
        if name in self.secrets:
            raise ApiError(409, "ALREADY_EXISTS", f"Secret [{name}] already exists.")
        if not doc.get("replication"):
            raise ApiError(400, "INVALID_ARGUMENT", "Secret.replication is required.")
        secret = _Secret(name=name, created=self.clock(), replication=doc["replication"])
        self._apply_fields(secret, doc, ["labels", "annotations", "topics", "rotation"])
        if "versionAliases" in doc:
            raise ApiError(400, "INVALID_ARGUMENT", "version aliases need existing versions")
        self.secrets[name] = secret
        self._publish(secret, "SECRET_CREATE", None)
        return self._secret_json(secret)

    def _patch(self, name: str, mask: str, doc: dict[str, Any]) -> dict[str, Any]:
        secret = self._secret(name)
        if not mask:
            raise ApiError(400, "INVALID_ARGUMENT", "update_mask is required.")
        etag = doc.get("etag")
        if etag and etag != secret.etag:
            raise ApiError(
                400,
                "FAILED_PRECONDITION",
                f"The etag provided in the request does not match the current etag of {name}.",
            )
        paths = [_snake(p.strip()) for p in mask.split(",") if p.strip()]
        self._apply_fields(secret, doc, paths)
        secret.etag = _etag()
        self._publish(secret, "SECRET_UPDATE", None)
        return self._secret_json(secret)

    def _apply_fields(self, secret: _Secret, doc: dict[str, Any], paths: list[str]) -> None:
        staged: dict[str, Any] = {
            "labels": dict(secret.labels),
            "annotations": dict(secret.annotations),
            "topics": list(secret.topics),
            "rotation": dict(secret.rotation),
            "aliases": dict(secret.aliases),
        }
        for path in paths:
            if path == "labels":
                staged["labels"] = dict(doc.get("labels") or {})
            elif path == "annotations":
                staged["annotations"] = dict(doc.get("annotations") or {})
            elif path == "topics":
                staged["topics"] = list(doc.get("topics") or [])
            elif path == "version_aliases":
                raw = doc.get("versionAliases") or {}
                staged["aliases"] = {k: int(v) for k, v in raw.items()}
            elif path == "rotation":
                staged["rotation"] = dict(doc.get("rotation") or {})
            elif path == "rotation.next_rotation_time":
                rotation = doc.get("rotation") or {}
                staged["rotation"]["nextRotationTime"] = rotation.get("nextRotationTime", "")
            elif path == "rotation.rotation_period":
                rotation = doc.get("rotation") or {}
                staged["rotation"]["rotationPeriod"] = rotation.get("rotationPeriod", "")
            else:
                raise ApiError(400, "INVALID_ARGUMENT", f"update_mask path {path!r} not emulated")
        self._validate(secret, staged)
        secret.labels = staged["labels"]
        secret.annotations = staged["annotations"]
        secret.topics = staged["topics"]
        secret.rotation = {k: v for k, v in staged["rotation"].items() if v}
        secret.aliases = staged["aliases"]

    def _validate(self, secret: _Secret, staged: dict[str, Any]) -> None:
        labels: dict[str, str] = staged["labels"]
        if len(labels) > 64:
            raise ApiError(400, "INVALID_ARGUMENT", "no more than 64 labels")
        for key, value in labels.items():
            if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(str(value)):
                raise ApiError(400, "INVALID_ARGUMENT", f"invalid label {key!r}")
        annotations: dict[str, str] = staged["annotations"]
        size = 0
        for key, value in annotations.items():
            if not _ANNOTATION_KEY.match(key) or len(key.encode()) > 128:
                raise ApiError(400, "INVALID_ARGUMENT", f"invalid annotation key {key!r}")
            size += len(key.encode()) + len(str(value).encode())
        if size >= 16 * 1024:
            raise ApiError(400, "INVALID_ARGUMENT", "annotations must total less than 16KiB")
        if len(staged["topics"]) > 10:
            raise ApiError(400, "INVALID_ARGUMENT", "at most 10 topics")
        rotation: dict[str, str] = staged["rotation"]
        if rotation.get("rotationPeriod"):
            if _duration(rotation["rotationPeriod"]) < timedelta(hours=1):
                raise ApiError(400, "INVALID_ARGUMENT", "rotation_period must be at least 3600s")
            if not rotation.get("nextRotationTime"):
                raise ApiError(
                    400, "INVALID_ARGUMENT", "next_rotation_time is required with rotation_period"
                )
        aliases: dict[str, int] = staged["aliases"]
        if len(aliases) > 50:
            raise ApiError(400, "INVALID_ARGUMENT", "no more than 50 aliases")
        for alias, number in aliases.items():
            if not _ALIAS.match(alias) or alias in ("latest", "NEW"):
                raise ApiError(400, "INVALID_ARGUMENT", f"invalid version alias {alias!r}")
            if number not in secret.versions:
                raise ApiError(
                    400,
                    "INVALID_ARGUMENT",
                    f"alias {alias!r} names version {number}, which does not exist",
                )

    def _secret_json(self, secret: _Secret) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": secret.name,
            "replication": secret.replication,
            "createTime": _ts(secret.created),
            "etag": secret.etag,
        }
        if secret.labels:
            out["labels"] = dict(secret.labels)
        if secret.annotations:
            out["annotations"] = dict(secret.annotations)
        if secret.topics:
            out["topics"] = list(secret.topics)
        if secret.rotation:
            out["rotation"] = dict(secret.rotation)
        if secret.aliases:
            out["versionAliases"] = {k: str(v) for k, v in secret.aliases.items()}
        return out

    # -- versions ----------------------------------------------------------------------

    def _add_version(self, name: str, doc: dict[str, Any]) -> dict[str, Any]:
        secret = self._secret(name)
        payload = doc.get("payload") or {}
        try:
            data = base64.b64decode(payload.get("data", ""), validate=True)
        except ValueError:
            raise ApiError(400, "INVALID_ARGUMENT", "payload.data is not base64") from None
        if len(data) > MAX_PAYLOAD:
            raise ApiError(400, "INVALID_ARGUMENT", "payload must be no larger than 64KiB")
        actual = crc32c(data)
        if "dataCrc32c" in payload and int(payload["dataCrc32c"]) != actual:
            raise ApiError(
                400,
                "INVALID_ARGUMENT",
                "Checksum mismatch: the data_crc32c does not match the data.",
            )
        number = max(secret.versions, default=0) + 1
        version = _Version(number=number, created=self.clock(), payload=data, crc=actual)
        secret.versions[number] = version
        self._publish(secret, "SECRET_VERSION_ADD", version)
        return self._version_json(name, version)

    def _version(self, name: str, ref: str, *, aliases: bool) -> _Version:
        secret = self._secret(name)
        if ref == "latest":
            if not secret.versions:
                raise ApiError(404, "NOT_FOUND", f"Secret [{name}] not found or has no versions.")
            return secret.versions[max(secret.versions)]
        if ref.isdigit():
            number = int(ref)
        elif aliases and ref in secret.aliases:
            number = secret.aliases[ref]
        elif aliases and _ALIAS.match(ref):
            raise ApiError(404, "NOT_FOUND", f"Secret Version alias [{ref}] not found.")
        else:
            raise ApiError(400, "INVALID_ARGUMENT", f"invalid version id {ref!r}")
        if number not in secret.versions:
            raise ApiError(404, "NOT_FOUND", f"Secret Version [{name}/versions/{ref}] not found.")
        return secret.versions[number]

    def _version_json(self, name: str, version: _Version) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": f"{name}/versions/{version.number}",
            "createTime": _ts(version.created),
            "state": version.state,
            "etag": version.etag,
            "replicationStatus": {"automatic": {}},
            "clientSpecifiedPayloadChecksum": True,
        }
        if version.destroyed is not None:
            out["destroyTime"] = _ts(version.destroyed)
        return out

    def _access(self, name: str, ref: str) -> dict[str, Any]:
        version = self._version(name, ref, aliases=True)
        if version.state != "ENABLED" or version.payload is None:
            raise ApiError(
                400,
                "FAILED_PRECONDITION",
                f"Secret Version [{name}/versions/{version.number}] is in {version.state} state.",
            )
        return {
            "name": f"{name}/versions/{version.number}",
            "payload": {
                "data": base64.b64encode(version.payload).decode("ascii"),
                "dataCrc32c": str(version.crc),
            },
        }

    def _list_versions(self, name: str, args: Any) -> dict[str, Any]:
        secret = self._secret(name)
        versions = sorted(secret.versions.values(), key=lambda v: v.number, reverse=True)
        wanted = (args.get("filter") or "").strip()
        if wanted:
            key, _, value = wanted.partition(":")
            if key.strip() != "state":
                raise ApiError(400, "INVALID_ARGUMENT", "only state filters are emulated")
            versions = [v for v in versions if v.state == value.strip().upper()]
        size = int(args.get("pageSize") or 25000)
        start = int(args.get("pageToken") or 0)
        page = versions[start : start + size]
        out: dict[str, Any] = {
            "versions": [self._version_json(name, v) for v in page],
            "totalSize": len(versions),
        }
        if start + size < len(versions):
            out["nextPageToken"] = str(start + size)
        return out

    def _transition(self, name: str, ref: str, verb: str, doc: dict[str, Any]) -> dict[str, Any]:
        version = self._version(name, ref, aliases=False)
        etag = doc.get("etag")
        if etag and etag != version.etag:
            raise ApiError(
                400,
                "FAILED_PRECONDITION",
                f"The etag provided in the request does not match the current etag of "
                f"{name}/versions/{version.number}.",
            )
        if version.state == "DESTROYED":
            raise ApiError(
                400,
                "FAILED_PRECONDITION",
                f"Secret Version [{name}/versions/{version.number}] is in DESTROYED state.",
            )
        secret = self._secret(name)
        if verb == "destroy":
            version.state, version.payload, version.destroyed = "DESTROYED", None, self.clock()
        else:
            version.state = "ENABLED" if verb == "enable" else "DISABLED"
        version.etag = _etag()
        self._publish(secret, f"SECRET_VERSION_{verb.upper()}", version)
        return self._version_json(name, version)

    # -- notifications -------------------------------------------------------------------

    def _publish(
        self, secret: _Secret, event_type: str, version: _Version | None
    ) -> dict[str, Any]:
        resource = (
            self._version_json(secret.name, version) if version else self._secret_json(secret)
        )
        attributes = {
            "eventType": event_type,
            "secretId": secret.name,
            "dataFormat": "JSON_API_V1",
            "timestamp": _ts(self.clock()),
        }
        if version is not None:
            attributes["versionId"] = f"{secret.name}/versions/{version.number}"
        message = {
            "attributes": attributes,
            "data": base64.b64encode(json.dumps(resource).encode()).decode("ascii"),
            "messageId": uuid.uuid4().hex[:16],
            "publishTime": _ts(self.clock()),
        }
        for topic in secret.topics:
            self.published.append({"topic": topic.get("name", ""), "message": message})
        return message
