"""Domain errors. Each message tells a person what to do next and never holds a key."""

from __future__ import annotations

_KINDS = {  # an error's kind -> what a person can act on (classes named: neither SDK imported)
    "DefaultCredentialsError": "no Google credentials here (Application Default Credentials)",
    "RefreshError": "Google credentials could not be refreshed",
    "NoCredentialsError": "no AWS credentials here",
    "ConnectionError": "could not connect",
    "ConnectTimeout": "could not connect",
    "ReadTimeout": "no answer in time",
    "EndpointConnectionError": "could not connect",
}


def reason_of(err: Exception) -> str:
    """What a person can act on: AWS's error code (AccessDeniedException, ThrottlingException),
    Google's HTTP status and reason (403 PERMISSION_DENIED), an endpoint that offers no such
    API (moto has no LookupEvents), missing credentials; else the error's kind."""
    response = getattr(err, "response", None)  # botocore's ClientError, requests' HTTPError
    if isinstance(response, dict) and isinstance(response.get("Error"), dict):
        return str(response["Error"].get("Code") or type(err).__name__)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        try:
            reason = str(response.json().get("error", {}).get("status", ""))  # type: ignore[union-attr]
        except (ValueError, AttributeError):
            reason = ""
        return f"HTTP {status}{' ' + reason if reason else ''}"
    if isinstance(err, NotImplementedError):
        return "this endpoint does not offer it"
    return _KINDS.get(type(err).__name__, type(err).__name__)


class RotationError(Exception):
    """Base of every error the rotator raises on purpose."""

    code = "error"


class MalformedKey(RotationError):
    """The submitted document is not a valid credential of the configured kind."""

    code = "malformed"


class AwaitingOperatorKey(RotationError):
    """No submission in the inbox yet: the rotation waits for a person."""

    code = "awaiting_key"


class KeyRejected(RotationError):
    """Customer.io (or a safety check) refused the submitted key. Current is untouched."""

    code = "rejected"

    def __init__(self, message: str, reason: str = "rejected", detail: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.detail = detail  # short, secret-free: a status code or two workspace ids


class WrongWorkspace(KeyRejected):
    code = "wrong_workspace"


class VerificationInconclusive(RotationError):
    """Customer.io could not be asked (down, slow, rate limited): try again later.

    `reason` is the short cause (unavailable, forbidden, rate_limited, timeout, ...) and
    `detail` what was seen (e.g. "503 after retries"), so the state can record both.
    """

    code = "inconclusive"

    def __init__(self, message: str, reason: str = "unavailable", detail: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.detail = detail


class StateConflict(RotationError):
    """Another invocation changed the credential between our read and our write."""

    code = "conflict"


class NotManaged(RotationError):
    """The secret is not one the rotator manages (missing or wrong tags)."""

    code = "not_managed"


class OtherStacksSecret(NotManaged):
    """A secret under the stack's prefix that another stack (or nobody) created: the rotator
    never acts on it, whatever its other tags say."""

    code = "other_stack"

    def __init__(self, secret: str, found: str, expected: str) -> None:
        owner = f"the stack {found!r}" if found else "no stack (it has no stack tag or label)"
        super().__init__(
            f"{secret} belongs to {owner}, not to this rotator's stack {expected!r}: nothing "
            "was done. Manage it from its own stack, or remove it from under this stack's "
            "prefix; if this stack should own it, declare it in this stack's config and run "
            "`pulumi up`."
        )
        self.found, self.expected = found, expected


class EntryRefused(RotationError):
    """An event that arrived through the wrong door of the AWS rotator: operators invoke its
    operator alias with an operator action; rotation steps, queue batches and sweeps come
    from AWS itself, unqualified."""

    code = "entry_refused"


class RollbackRefused(RotationError):
    code = "rollback_refused"


class NativeRotationEarly(RotationError):
    """Secrets Manager's own schedule started a rotation the stack's calendar does not owe:
    the current key was promoted outside a rotation Secrets Manager started (its schedule
    counts from its own last completed rotation). Nothing was opened."""

    code = "native_early"


class RetireRefused(RotationError):
    """A retirement cannot start now (a rotation is open): finish or wait for it first."""

    code = "retire_refused"


class KeyInFreeText(RotationError):
    """Free text a person gave (a reason, a name) holds a key or a piece of one: refused
    before anything is written, published or audited. `field` names where, never what."""

    code = "key_in_text"

    def __init__(self, field: str) -> None:
        super().__init__(
            f"{field} contains a Customer.io key, or a piece of one: nothing was done and the "
            f"text was not recorded. Describe what happened without quoting the key (its last "
            "4 characters or its fingerprint, from `status`, are enough), then run the command "
            "again. If the key was exposed, declare an emergency for it."
        )
        self.field = field


class KeyShapedText(KeyInFreeText):
    """Free text holding something shaped like a Customer.io key, found where the keys
    themselves cannot be read (the operator's CLI): refused before it is sent anywhere."""

    def __init__(self, field: str) -> None:
        RotationError.__init__(
            self,
            f"{field} contains a Customer.io key, or something shaped like one (12 or more "
            "hexadecimal characters with a letter among them, an sk_ or pk_ key, or the base64 "
            "of one): nothing was sent or recorded. Describe what happened without quoting the "
            "key (its last 4 characters or its fingerprint, from `status`, are enough), then "
            "run the command again. If the key was exposed, declare an emergency for it.",
        )
        self.field = field


class ReasonTooLong(RotationError):
    """A reason longer than the rotator records (state.REASON_MAX): nothing was changed."""

    code = "reason_too_long"
