"""Names shared by the Pulumi program, the functions and the CLI.

One place for tag keys, environment variables and event shapes, so the program
that provisions a secret and the rotator that reads it can never disagree.
"""

from __future__ import annotations

# Tags (AWS) / labels (GCP) that the Pulumi program puts on every managed live secret.
CONFIG_PREFIX = "cio-rotation:"
TAG_MANAGED = CONFIG_PREFIX + "managed"  # value "true"
TAG_CREDENTIAL = CONFIG_PREFIX + "credential"  # the credential's name, e.g. "marketing-track"
TAG_KIND = CONFIG_PREFIX + "kind"  # track | app | webhook_signing | private
TAG_REGION = CONFIG_PREFIX + "region"  # us | eu ("" for webhook_signing)
TAG_WORKSPACE = CONFIG_PREFIX + "workspace"  # optional expected Customer.io workspace id
TAG_WEBHOOK_ENDPOINT = CONFIG_PREFIX + "webhook-endpoint"  # webhook_signing: the endpoint URL
TAG_INBOX = CONFIG_PREFIX + "inbox"  # on the live secret: the inbox secret's ARN / name
TAG_INBOX_OF = CONFIG_PREFIX + "inbox-of"  # on the inbox secret: the live secret's ARN / name
# The Pulumi stack that manages the secret (its stack name, e.g. "prod"): notices name it and
# the operator CLI finds its stack by it (on the live, inbox and state secrets alike).
TAG_STACK = CONFIG_PREFIX + "stack"
# AWS only: the per-credential state document, a third secret only the rotator writes.
# Its versions are written with a revision-derived ClientRequestToken (compare-and-swap).
TAG_STATE = CONFIG_PREFIX + "state"  # on the live secret: the state secret's ARN / name
TAG_STATE_OF = CONFIG_PREFIX + "state-of"  # on the state secret: the live secret's name

# The operator CLI's name, as runbooks spell it (a stack may override it: ENV_CLI_NAME).
CLI_NAME = "cio-rotate"

# Tags where earlier versions of the rotator kept its state on AWS; read once to migrate.
STATE_PREFIX = "cio-state:"

# Secrets Manager staging labels.
AWSCURRENT = "AWSCURRENT"
AWSPENDING = "AWSPENDING"
AWSPREVIOUS = "AWSPREVIOUS"
# A webhook signing key's previous version carries this label plus the grace end
# (`cio-grace-until:2026-03-02T09:00:00Z`) while receivers may still accept it: the consumer
# library reads it with DescribeSecret, as applications may not read state documents.
AWS_GRACE_STAGE_PREFIX = "cio-grace-until:"

# Environment of the rotation function (both clouds).
ENV_SNS_TOPIC_ARN = "CIO_SNS_TOPIC_ARN"
ENV_CHAT_WEBHOOK_URL = "CIO_CHAT_WEBHOOK_URL"
# AWS: the name of the SSM SecureString that holds the chat webhook URL, so the URL is
# never in the function configuration (read by notify.chat_webhook_url at cold start).
ENV_CHAT_WEBHOOK_PARAMETER = "CIO_CHAT_WEBHOOK_PARAMETER"
ENV_ROTATION_DAYS = "CIO_ROTATION_DAYS"
ENV_LEAD_DAYS = "CIO_LEAD_DAYS"
ENV_ESCALATE_DAYS = "CIO_ESCALATE_DAYS"
ENV_REMINDER_DAYS = "CIO_REMINDER_DAYS"
ENV_GRACE_HOURS = "CIO_GRACE_HOURS"
ENV_EMERGENCY_GRACE_MINUTES = "CIO_EMERGENCY_GRACE_MINUTES"
ENV_EMERGENCY_DEADLINE_HOURS = "CIO_EMERGENCY_DEADLINE_HOURS"
ENV_LIVENESS_ALERT_HOURS = "CIO_LIVENESS_ALERT_HOURS"  # inconclusive daily checks before telling
# The drain's quiet period in minutes (Policy.drain_quiet_minutes; 0: the grace timer only).
ENV_DRAIN_QUIET_MINUTES = "CIO_DRAIN_QUIET_MINUTES"
# The rotator's own identity (AWS: its role ARN; GCP: its service account's e-mail): its own
# reads of the live secret in the audit trail are not an application holding the old key.
ENV_ROTATOR_PRINCIPAL = "CIO_ROTATOR_PRINCIPAL"
# GCP: where the drain's evidence is read (tests and the drill: a local Cloud Monitoring and
# Cloud Logging, read without credentials); unset in a deployment (Google's endpoints).
ENV_MONITORING_URL = "CIO_MONITORING_URL"
ENV_LOGGING_URL = "CIO_LOGGING_URL"
# AWS: the credentials' wake-ups (one-time EventBridge Scheduler schedules, see
# rotation/stores/aws_wakeups.py) and the queue that carries one credential per message.
ENV_WAKE_GROUP = "CIO_WAKE_SCHEDULE_GROUP"  # the schedule group the program declares
ENV_WAKE_TARGET_ARN = "CIO_WAKE_TARGET_ARN"  # the work queue's ARN (the schedules' target)
ENV_WAKE_ROLE_ARN = "CIO_WAKE_ROLE_ARN"  # the role EventBridge Scheduler assumes to send
ENV_WORK_QUEUE_URL = "CIO_WORK_QUEUE_URL"  # the same queue, for the sweep's fan-out
ENV_STACK = "CIO_STACK"  # the Pulumi stack name, for notices and the commands they print
ENV_CLI_NAME = "CIO_CLI_NAME"  # how runbooks spell the CLI, default CLI_NAME
ENV_TRACK_URL = "CUSTOMERIO_TRACK_URL"  # overrides both regions' Track host (tests, drill)
ENV_APP_URL = "CUSTOMERIO_APP_URL"  # overrides both regions' App host (tests, drill)
# How private (sk_) keys are checked. Customer.io does not document it: the default is the
# inferred `Authorization: Bearer <key>` on GET /v1/workspaces of the region's App host. A
# stack overrides it by config if Customer.io documents something else (see rotation/verify.py).
ENV_PRIVATE_PROBE_URL = "CIO_PRIVATE_PROBE_URL"  # "/path" on the App host, or a full URL;
# either may hold "{region}" (us | eu)
ENV_PROBE_RATE = "CIO_PROBE_RATE"  # this instance's share of Customer.io's 10 requests/s
ENV_GCP_READ_RATE = "CIO_GCP_READ_RATE"  # this instance's Secret Manager metadata reads/s
ENV_PRIVATE_PROBE_AUTH = "CIO_PRIVATE_PROBE_AUTH"  # bearer (default) | basic (key as user)
PRIVATE_PROBE_AUTH_SCHEMES = ("bearer", "basic")

# Events the AWS rotation Lambda accepts besides Secrets Manager's own
# {"Step", "SecretId", "ClientRequestToken"}.
ACTION_SWEEP = "sweep"  # {"action": "sweep", "secret_ids": [arn, ...]}
ACTION_EMERGENCY = "emergency"  # {"action", "secret_id", "reason", "actor", "revoke_first"}
# The rotator's answer to an emergency for a rotation already open as one: nothing changed.
OUTCOME_ALREADY_OPEN = "already_open"
ACTION_SUBMITTED = "submitted"  # {"action", "secret_id", "actor"}: bootstrap or resume
ACTION_RECONCILE = "reconcile"  # {"action", "secret_id"}: take the next safe step now
ACTION_ROLLBACK = "rollback"  # {"action", "secret_id", "actor"}: previous key current again
ACTION_RETIRE = "retire"  # {"action", "secret_id", "reason", "actor"}: end of a credential's life
# AWS: the rotator's alias operators invoke (their IAM grant names its ARN alone). Invoked
# through it, the function accepts only OPERATOR_ACTIONS, never a rotation Step, a work-queue
# batch or a sweep; Secrets Manager, the work queue and the schedules invoke it unqualified.
OPERATOR_ALIAS = "operator"
OPERATOR_ACTIONS = frozenset(
    {ACTION_EMERGENCY, ACTION_SUBMITTED, ACTION_RECONCILE, ACTION_ROLLBACK, ACTION_RETIRE}
)
# The live document a retired credential holds from then on: the consumer library raises
# CredentialRetired on a document with this field (cio_consumer/credentials.py).
TOMBSTONE_FIELD = "retired"

# GCP Secret Manager: label keys may not contain ':' (lowercase letters, digits, '_', '-'
# only, and so may label values), so the GCP names use '-' where AWS tags use ':'. The
# inbox is a resource name ('/'), which no label value may hold: it is an annotation.
GCP_LABEL_MANAGED = "cio-rotation-managed"  # value "true"
GCP_LABEL_CREDENTIAL = "cio-rotation-credential"
GCP_LABEL_KIND = "cio-rotation-kind"  # track | app | webhook_signing | private
GCP_LABEL_REGION = "cio-rotation-region"  # us | eu (absent for webhook_signing)
GCP_LABEL_WORKSPACE = "cio-rotation-workspace"
GCP_LABEL_STACK = "cio-rotation-stack"  # the Pulumi stack name (see TAG_STACK)
GCP_ANNOTATION_WEBHOOK_ENDPOINT = "cio-rotation-webhook-endpoint"  # a URL: no label may hold it
GCP_ANNOTATION_INBOX = "cio-rotation-inbox"  # on the live secret: projects/P/secrets/INBOX
GCP_ANNOTATION_INBOX_OF = "cio-rotation-inbox-of"  # on the inbox: the live secret's name
# Annotations the rotator writes: keys must begin and end alphanumeric, [-_.] between.
GCP_STATE_PREFIX = "cio-state-"
# Version aliases on the live secret (latest is always current: only verified keys are added).
GCP_ALIAS_CURRENT = "current"
GCP_ALIAS_PREVIOUS = "previous"
# Environment of the Cloud Function.
ENV_MANAGED_SECRETS = "CIO_MANAGED_SECRETS"  # comma-separated live secret resource names
ENV_PUBSUB_TOPIC = "CIO_NOTIFICATIONS_TOPIC"  # projects/P/topics/T for operator notices
ENV_ROTATION_TOPIC = "CIO_ROTATION_TOPIC"  # the function's own topic: one message per credential
ENV_FUNCTION_TIMEOUT = "CIO_FUNCTION_TIMEOUT"  # seconds: the function's deadline per event
