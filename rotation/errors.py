"""Domain errors. Each message tells a person what to do next and never holds a key."""

from __future__ import annotations


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


class ReasonTooLong(RotationError):
    """A reason longer than the rotator records (state.REASON_MAX): nothing was changed."""

    code = "reason_too_long"
