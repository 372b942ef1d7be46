"""Physical names of everything the stack creates, in one place.

The CLI and the functions find secrets by these names, so they are derived,
never configured per resource. Credential names contain no '/', which is what
lets one IAM pattern tell a live secret from an inbox (see aws_policies).
"""

from __future__ import annotations

import hashlib

from rotation import conventions as cv

CLI_NAME = cv.CLI_NAME  # [project.scripts] in pyproject.toml


def aws_secret_name(prefix: str, credential: str) -> str:
    """The live secret applications read: `<prefix>/<name>`."""
    return f"{prefix}/{credential}"


def aws_inbox_name(prefix: str, credential: str) -> str:
    """The submission inbox operators write: `<prefix>/<name>/inbox`."""
    return f"{prefix}/{credential}/inbox"


def aws_state_name(prefix: str, credential: str) -> str:
    """The rotation state document only the rotator writes: `<prefix>/<name>/state`."""
    return f"{prefix}/{credential}/state"


def aws_chat_parameter_name(prefix: str) -> str:
    """The SSM SecureString holding the chat webhook URL (outside every secret pattern)."""
    return f"/{prefix}/rotation/chat-webhook-url"


def gcp_chat_secret_id(prefix: str) -> str:
    """The Secret Manager secret holding the chat webhook URL; not a managed credential.

    The '_' keeps it apart from every `<prefix>-<name>`: credential names have none.
    """
    return f"{prefix}_chat_webhook"


IAM_NAME_MAX = 64  # roles; managed policies allow 128, the shorter bound serves both


def iam_name(prefix: str, role: str, stack: str, region: str) -> str:
    """An account-global IAM name that cannot collide across regions or stacks.

    IAM names are unique per account, not per region: the same stack deployed to two
    regions (or two stacks in one region) would otherwise fight over one role. Too long
    a name keeps its readable start and ends in a hash of the full name.
    """
    full = f"{prefix}-{role}-{stack}-{region}"
    if len(full) <= IAM_NAME_MAX:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[: IAM_NAME_MAX - 9]}-{digest}"


def gcp_secret_id(prefix: str, credential: str) -> str:
    """GCP secret ids allow no '/': `<prefix>-<name>`."""
    return f"{prefix}-{credential}"


def gcp_inbox_id(prefix: str, credential: str) -> str:
    """`<prefix>-<name>-inbox`; config forbids credential names ending in -inbox."""
    return f"{prefix}-{credential}-inbox"


def gcp_secret_name(project: str, secret_id: str) -> str:
    """The full resource name GCP APIs, events and annotations use."""
    return f"projects/{project}/secrets/{secret_id}"


def gcp_latest_version(project: str, secret_id: str) -> str:
    """What GCP applications read: the resource name of the newest (always verified) version."""
    return f"{gcp_secret_name(project, secret_id)}/versions/latest"


def bootstrap_command(credential: str) -> str:
    """The first hand-over of a key goes through the same verification as every rotation."""
    return f"{CLI_NAME} submit {credential}"


def aws_topic_name(prefix: str) -> str:
    """The notifications topic: its key's policy names it before it exists."""
    return f"{prefix}-rotation-notifications"


def rotator_function_name(prefix: str) -> str:
    return f"{prefix}-rotator"


def rotator_log_group_name(prefix: str) -> str:
    """Created by the stack (with retention) before Lambda would create it without."""
    return f"/aws/lambda/{rotator_function_name(prefix)}"
