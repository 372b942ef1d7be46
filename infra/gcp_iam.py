"""GCP IAM for the rotation, as pure data: roles, permissions and who gets what where.

Every grant of the rotation's own accounts is on one resource (a secret, a topic,
the function's Cloud Run service). Promoting needs `secretmanager.secrets.update`
(aliases, annotations, next_rotation_time), which no version-level predefined role
has, hence a small custom role bound on each managed secret only.

Four project-level grants exist because Google offers nothing narrower, each as
narrow as it allows (the policy pack admits exactly these):

- the build account writes build logs (`logging.logWriter`: no narrower scope);
- the build account reads the function's source where Cloud Functions gen2 copies
  it, the bucket `gcf-v2-sources-<PROJECT_NUMBER>-<region>` Google creates during
  the first deploy (so no bucket-level grant can exist before it): `objectViewer`
  with an IAM condition naming that one bucket (hashicorp/terraform-provider-google
  #20571);
- the Eventarc service agent gets `eventarc.serviceAgent`, which a project new to
  Eventarc may not have granted yet when the trigger is created (#25294,
  pulumi/pulumi-gcp#1290);
- operators list secrets (a custom role of `secretmanager.secrets.list` alone), so the
  CLI finds its stack by label with no outputs file (SECRET_LISTER_PERMISSIONS).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"  # noqa: S105 (a name, not a secret)
SECRET_VERSION_ADDER = "roles/secretmanager.secretVersionAdder"  # noqa: S105 (a name, not a secret)
SECRET_VIEWER = "roles/secretmanager.viewer"  # noqa: S105 - metadata only, never payloads
PUBSUB_PUBLISHER = "roles/pubsub.publisher"
RUN_INVOKER = "roles/run.invoker"
# The build service account's roles (Cloud Functions builds with a custom account).
STORAGE_OBJECT_VIEWER = "roles/storage.objectViewer"  # on the source bucket
ARTIFACT_WRITER = "roles/artifactregistry.writer"  # on the stack's image repository
LOG_WRITER = "roles/logging.logWriter"  # on the project: logging has no narrower scope
EVENTARC_SERVICE_AGENT = "roles/eventarc.serviceAgent"  # the Eventarc agent, on the project
EVENTARC_SERVICE = "eventarc.googleapis.com"
# How long a grant takes to reach every Google service. IAM documents "typically two
# minutes, in rare cases seven or more" (iam/docs/access-change-propagation): the
# first `up` waits this long after grants a following resource relies on, once.
IAM_PROPAGATION = "120s"

# What the function does to a credential's two secrets, and nothing more.
ROTATOR_PERMISSIONS = (
    "secretmanager.secrets.get",
    "secretmanager.secrets.update",
    "secretmanager.versions.access",
    "secretmanager.versions.add",
    "secretmanager.versions.destroy",
    "secretmanager.versions.disable",
    "secretmanager.versions.enable",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
)

# `cio-rotate` finds its stack by the secrets' labels (rotation/operator/discover.py):
# `secretmanager.secrets.list`, which Google checks on the project only (a list names no
# secret to bind on). A custom role holding that one permission, bound on the project to
# the stack's operators: it shows the names, labels and annotations of the project's
# secrets, never a value (a payload needs `secretmanager.versions.access`, the
# secretAccessor role's one permission: cloud.google.com/iam/docs/roles-permissions/
# secretmanager; "the secret ... does not contain the actual secret":
# cloud.google.com/secret-manager/docs/view-secret-details).
SECRET_LISTER_PERMISSIONS = ("secretmanager.secrets.list",)
# The drain (rotation/drain.py). Applications write their key-usage points as a Cloud
# Monitoring custom metric; the rotator and operators read those points and the Data
# Access audit log of reads of the secrets. Cloud Monitoring's and Cloud Logging's
# permissions are granted on the project at the lowest (IAM roles reference: "Lowest-level
# resources where you can grant this role: Project"; a time series has no IAM of its
# own), so each side gets a custom role holding only what it calls, bound on the project:
# - writers: `monitoring.timeSeries.create` alone (roles/monitoring.metricWriter adds
#   metricDescriptors.create/list and more);
# - readers: `monitoring.timeSeries.list`, `logging.logEntries.list` and
#   `logging.privateLogEntries.list` (Data Access logs are private logs; the predefined
#   roles/logging.privateLogViewer adds log buckets, views, sinks and metrics reads).
USAGE_WRITER_PERMISSIONS = ("monitoring.timeSeries.create",)
DRAIN_READER_PERMISSIONS = (
    "logging.logEntries.list",
    "logging.privateLogEntries.list",
    "monitoring.timeSeries.list",
)
USAGE_WRITER_SUFFIX = "_usage_writer"
DRAIN_READER_SUFFIX = "_drain_reader"
# Data Access audit logs of Secret Manager's reads (AccessSecretVersion is DATA_READ):
# off by default, so the program turns them on for the service.
AUDITED_SERVICE = "secretmanager.googleapis.com"
AUDITED_LOG_TYPE = "DATA_READ"

# Project-level IAM resource types that must never appear in this stack.
PROJECT_WIDE_GRANT_TYPES = frozenset(
    {
        "gcp:projects/iAMMember:IAMMember",
        "gcp:projects/iAMBinding:IAMBinding",
        "gcp:projects/iAMPolicy:IAMPolicy",
        "gcp:organizations/iAMMember:IAMMember",
        "gcp:organizations/iAMBinding:IAMBinding",
        "gcp:organizations/iAMPolicy:IAMPolicy",
        "gcp:folder/iAMMember:IAMMember",
        "gcp:folder/iAMBinding:IAMBinding",
        "gcp:folder/iAMPolicy:IAMPolicy",
    }
)


class Target(StrEnum):
    LIVE = "live"
    INBOX = "inbox"


@dataclass(frozen=True)
class SecretGrant:
    """One member holding one role on one of a credential's secrets."""

    target: Target
    role: str
    member: str
    label: str  # short, stable, for the Pulumi resource name


def custom_role_id(prefix: str) -> str:
    """Custom role ids allow letters, digits, '_' and '.', not '-'."""
    return f"{prefix.replace('-', '_')}_rotator"


def secret_lister_role_id(prefix: str) -> str:
    """The operators' listing role; the policy pack knows it by this `_secret_lister` end."""
    return f"{prefix.replace('-', '_')}_secret_lister"


def project_role(project: str, role_id: str) -> str:
    """A project custom role's full name, known before it exists (preview, the policy pack)."""
    return f"projects/{project}/roles/{role_id}"


def drain_role_ids(prefix: str) -> tuple[str, str]:
    """(usage writer, drain reader) custom role ids of a stack."""
    base = prefix.replace("-", "_")
    return base + USAGE_WRITER_SUFFIX, base + DRAIN_READER_SUFFIX


def people_grants(operators: Sequence[str], consumers: Sequence[str]) -> list[SecretGrant]:
    """Operators add versions to inboxes and see metadata; consumers read live secrets only."""
    grants: list[SecretGrant] = []
    for i, member in enumerate(operators):
        grants.append(SecretGrant(Target.INBOX, SECRET_VERSION_ADDER, member, f"op{i}-add"))
        grants.append(SecretGrant(Target.INBOX, SECRET_VIEWER, member, f"op{i}-view"))
        grants.append(SecretGrant(Target.LIVE, SECRET_VIEWER, member, f"op{i}-view"))
    for i, member in enumerate(consumers):
        grants.append(SecretGrant(Target.LIVE, SECRET_ACCESSOR, member, f"app{i}-read"))
    return grants


def service_agent_member(email: str) -> str:
    return f"serviceAccount:{email}"


def functions_source_bucket(project_number: str, region: str) -> str:
    """The bucket Cloud Functions gen2 copies a function's source into before the build."""
    return f"gcf-v2-sources-{project_number}-{region}"


def bucket_condition(bucket: str) -> dict[str, str]:
    """An IAM condition holding for one bucket and its objects, nothing else.

    Storage names resources `projects/_/buckets/B` and `projects/_/buckets/B/objects/O`;
    the exact match plus the `B/` prefix keeps a look-alike bucket `B-x` out.
    """
    resource = f"projects/_/buckets/{bucket}"
    return {
        "title": "gcf-v2-sources only",
        "description": "The Cloud Functions gen2 source bucket of this project and region",
        "expression": (f'resource.name == "{resource}" || resource.name.startsWith("{resource}/")'),
    }
