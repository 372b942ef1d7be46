"""Names shared by the Pulumi program, the functions and the CLI.

One place for tag keys, environment variables and event shapes, so the program
that provisions a secret and the rotator that reads it can never disagree.
"""

from __future__ import annotations

# Tags (AWS) / labels (GCP) that the Pulumi program puts on every managed live secret.
CONFIG_PREFIX = "cio-rotation:"
TAG_MANAGED = CONFIG_PREFIX + "managed"  # value "true"
TAG_CREDENTIAL = CONFIG_PREFIX + "credential"  # the credential's name, e.g. "marketing-track"
TAG_KIND = CONFIG_PREFIX + "kind"  # track | app | webhook_signing
TAG_REGION = CONFIG_PREFIX + "region"  # us | eu ("" for webhook_signing)
TAG_WORKSPACE = CONFIG_PREFIX + "workspace"  # optional expected Customer.io workspace id
TAG_INBOX = CONFIG_PREFIX + "inbox"  # on the live secret: the inbox secret's ARN / name
TAG_INBOX_OF = CONFIG_PREFIX + "inbox-of"  # on the inbox secret: the live secret's ARN / name

# Tags the rotator itself writes (its IAM policy allows tagging only with this prefix).
STATE_PREFIX = "cio-state:"

# Secrets Manager staging labels.
AWSCURRENT = "AWSCURRENT"
AWSPENDING = "AWSPENDING"
AWSPREVIOUS = "AWSPREVIOUS"

# Environment of the rotation function (both clouds).
ENV_SNS_TOPIC_ARN = "CIO_SNS_TOPIC_ARN"
ENV_CHAT_WEBHOOK_URL = "CIO_CHAT_WEBHOOK_URL"
ENV_ROTATION_DAYS = "CIO_ROTATION_DAYS"
ENV_LEAD_DAYS = "CIO_LEAD_DAYS"
ENV_ESCALATE_DAYS = "CIO_ESCALATE_DAYS"
ENV_REMINDER_DAYS = "CIO_REMINDER_DAYS"
ENV_GRACE_HOURS = "CIO_GRACE_HOURS"
ENV_EMERGENCY_GRACE_MINUTES = "CIO_EMERGENCY_GRACE_MINUTES"
ENV_EMERGENCY_DEADLINE_HOURS = "CIO_EMERGENCY_DEADLINE_HOURS"
ENV_CLI_NAME = "CIO_CLI_NAME"  # how runbooks spell the CLI, default "cio-rotate"
ENV_TRACK_URL = "CUSTOMERIO_TRACK_URL"  # overrides both regions' Track host (tests, drill)
ENV_APP_URL = "CUSTOMERIO_APP_URL"  # overrides both regions' App host (tests, drill)

# Events the AWS rotation Lambda accepts besides Secrets Manager's own
# {"Step", "SecretId", "ClientRequestToken"}.
ACTION_SWEEP = "sweep"  # {"action": "sweep", "secret_ids": [arn, ...]}
ACTION_EMERGENCY = "emergency"  # {"action", "secret_id", "reason", "actor", "revoke_first"}
ACTION_SUBMITTED = "submitted"  # {"action", "secret_id", "actor"}: bootstrap or resume
ACTION_RECONCILE = "reconcile"  # {"action", "secret_id"}: take the next safe step now
