"""What the stack writes on each secret so the rotator knows what it manages.

AWS tags use the keys from rotation.conventions verbatim. GCP label keys and
values may only hold lowercase letters, digits, '_' and '-', so GCP uses the
conventions' GCP_* names, which are the AWS keys with ':' turned into '-':

| AWS tag (live secret)       | GCP (live secret)                          | value                      |
|-----------------------------|--------------------------------------------|----------------------------|
| cio-rotation:managed        | label cio-rotation-managed                 | "true"                     |
| cio-rotation:credential     | label cio-rotation-credential              | credential name            |
| cio-rotation:kind           | label cio-rotation-kind                    | track / app / webhook_signing |
| cio-rotation:region         | label cio-rotation-region                  | us / eu (GCP: absent for webhook_signing; AWS: "") |
| cio-rotation:workspace      | label cio-rotation-workspace               | workspace id, if configured |
| cio-rotation:stack (all three) | label cio-rotation-stack (live, inbox)  | the Pulumi stack's name     |
| cio-rotation:inbox          | annotation cio-rotation-inbox              | AWS: inbox ARN; GCP: inbox resource name |
| cio-rotation:inbox-of (inbox) | annotation cio-rotation-inbox-of (inbox) | AWS: live secret name; GCP: live resource name |
| cio-rotation:state          | (GCP keeps state in annotations)           | AWS: state secret ARN      |
| cio-rotation:state-of (state) | -                                        | AWS: live secret name      |
| (AWS: the state secret)     | annotations cio-state-* (function)         | rotation state             |

A label value cannot hold '/', so the GCP links between a live secret and its
inbox are annotations. The AWS inbox and state secrets name their live secret by
name, not ARN: the live secret's tags need their ARNs, so they are created first,
before the live ARN exists (Secrets Manager accepts a name wherever it takes an ARN).

On AWS every tag is configuration, owned by Pulumi: the rotator writes none (its
state is the state secret), so a change of kind, region or workspace in the stack
config reaches the tags the rotator verifies against.
"""

from __future__ import annotations

from infra.config import CredentialSpec
from rotation import conventions as cv
from rotation import metadata


def _config_tags(spec: CredentialSpec, stack: str) -> dict[str, str]:
    return {
        **metadata.aws_config_tags(
            spec.name,
            spec.kind,
            spec.region,
            spec.workspace_id or "",
            spec.webhook_endpoint or "",
        ),
        cv.TAG_STACK: stack,
    }


def aws_live_tags(
    spec: CredentialSpec, inbox_arn: str, state_arn: str, stack: str
) -> dict[str, str]:
    """Tags of the live secret: the credential's config plus pointers to inbox and state."""
    return {**_config_tags(spec, stack), cv.TAG_INBOX: inbox_arn, cv.TAG_STATE: state_arn}


def aws_state_tags(spec: CredentialSpec, live_ref: str, stack: str) -> dict[str, str]:
    """Tags of the state document: not `managed`; it points back at its live secret by name."""
    return {cv.TAG_CREDENTIAL: spec.name, cv.TAG_STATE_OF: live_ref, cv.TAG_STACK: stack}


def aws_inbox_tags(spec: CredentialSpec, live_ref: str, stack: str) -> dict[str, str]:
    """Tags of the inbox. It is not `managed`: the sweep and the rotator act on live secrets.

    `live_ref` is the live secret's name: its ARN cannot be known when the inbox is
    created, because the live secret's tags need the inbox ARN first (a cycle) and
    Secrets Manager accepts a name wherever it accepts an ARN.
    """
    return {cv.TAG_CREDENTIAL: spec.name, cv.TAG_INBOX_OF: live_ref, cv.TAG_STACK: stack}


def gcp_live_labels(spec: CredentialSpec, stack: str) -> dict[str, str]:
    """Labels of the live secret: the credential's config (GCP label rules) and its stack."""
    return {
        **metadata.gcp_config_labels(spec.name, spec.kind, spec.region, spec.workspace_id or ""),
        cv.GCP_LABEL_STACK: metadata.gcp_stack_label(stack),
    }


def gcp_live_annotations(inbox_name: str) -> dict[str, str]:
    """The live secret points at its inbox (a full resource name). Its other annotations
    are the rotator's state; config that no label can hold lives on the inbox."""
    return {cv.GCP_ANNOTATION_INBOX: inbox_name}


def gcp_inbox_labels(spec: CredentialSpec, stack: str) -> dict[str, str]:
    """Not `managed`: the sweep and the function act on live secrets only."""
    return {cv.GCP_LABEL_CREDENTIAL: spec.name, cv.GCP_LABEL_STACK: metadata.gcp_stack_label(stack)}


def gcp_inbox_annotations(live_name: str) -> dict[str, str]:
    """The inbox points back at its live secret, so SECRET_VERSION_ADD finds it."""
    return {cv.GCP_ANNOTATION_INBOX_OF: live_name}
