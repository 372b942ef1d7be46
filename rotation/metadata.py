"""The one codec between a credential's configuration and the metadata on its secrets.

The Pulumi program writes it (infra/metadata.py) and the stores read it back, so both
ends use these functions and can never disagree. AWS tags use the keys of
rotation/conventions.py verbatim. GCP label keys and values may only hold lowercase
letters, digits, '_' and '-', so GCP uses the conventions' GCP_* names ('-' where AWS
has ':'), and what no label may hold (a URL) is an annotation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rotation import conventions as cv
from rotation.credentials import Kind, Region
from rotation.errors import NotManaged, OtherStacksSecret
from rotation.stores.base import CredentialConfig


def gcp_stack_label(stack: str) -> str:
    """A Pulumi stack name as a GCP label value (lowercase letters, digits, '_', '-'; at most
    63): the same name for the usual lowercase stack names, folded otherwise. The function's
    CIO_STACK keeps the exact name, which is what notices print."""
    return re.sub(r"[^a-z0-9_-]", "-", stack.lower())[:63]


def refuse_other_stacks(secret: str, found: str, expected: str | None) -> None:
    """OtherStacksSecret unless the secret's stack tag (label) is `expected`: a name under
    the stack's prefix proves nothing, anyone may create one. None: the reader is not a
    stack's rotator (the operator CLI, which finds its stack by this very tag)."""
    if expected is not None and found != expected:
        raise OtherStacksSecret(secret, found, expected)


def aws_config_tags(
    name: str, kind: Kind, region: Region | None, workspace: str = "", webhook_endpoint: str = ""
) -> dict[str, str]:
    """Tags that describe a credential on its AWS live secret."""
    tags = {
        cv.TAG_MANAGED: "true",
        cv.TAG_CREDENTIAL: name,
        cv.TAG_KIND: kind.value,
        cv.TAG_REGION: region.value if region else "",
    }
    if workspace:
        tags[cv.TAG_WORKSPACE] = workspace
    if webhook_endpoint:
        tags[cv.TAG_WEBHOOK_ENDPOINT] = webhook_endpoint
    return tags


def gcp_config_labels(
    name: str, kind: Kind, region: Region | None, workspace: str = ""
) -> dict[str, str]:
    """Labels that describe a credential on its GCP live secret."""
    labels = {
        cv.GCP_LABEL_MANAGED: "true",
        cv.GCP_LABEL_CREDENTIAL: name,
        cv.GCP_LABEL_KIND: kind.value,
    }
    if region is not None:
        labels[cv.GCP_LABEL_REGION] = region.value
    if workspace:
        labels[cv.GCP_LABEL_WORKSPACE] = workspace
    return labels


def gcp_config_annotations(webhook_endpoint: str = "") -> dict[str, str]:
    """What no GCP label can hold: the webhook endpoint URL."""
    return {cv.GCP_ANNOTATION_WEBHOOK_ENDPOINT: webhook_endpoint} if webhook_endpoint else {}


def config_from_aws(arn: str, name: str, tags: Mapping[str, str]) -> CredentialConfig:
    """The credential's configuration, as Pulumi tagged the live secret."""
    return _config(
        arn,
        fallback_name=name,
        managed=tags.get(cv.TAG_MANAGED) == "true",
        fields=(cv.TAG_CREDENTIAL, cv.TAG_KIND, cv.TAG_REGION, cv.TAG_WORKSPACE),
        values=tags,
        webhook_endpoint=tags.get(cv.TAG_WEBHOOK_ENDPOINT, ""),
        what="tag",
    )


def config_from_gcp(
    resource: str, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> CredentialConfig:
    """The credential's configuration, as Pulumi labelled the live secret."""
    return _config(
        resource,
        fallback_name=resource.rsplit("/", 1)[-1],
        managed=labels.get(cv.GCP_LABEL_MANAGED) == "true",
        fields=(
            cv.GCP_LABEL_CREDENTIAL,
            cv.GCP_LABEL_KIND,
            cv.GCP_LABEL_REGION,
            cv.GCP_LABEL_WORKSPACE,
        ),
        values=labels,
        webhook_endpoint=annotations.get(cv.GCP_ANNOTATION_WEBHOOK_ENDPOINT, ""),
        what="label",
    )


def _config(
    secret: str,
    *,
    fallback_name: str,
    managed: bool,
    fields: tuple[str, str, str, str],
    values: Mapping[str, str],
    webhook_endpoint: str,
    what: str,
) -> CredentialConfig:
    credential, kind_key, region_key, workspace_key = fields
    if not managed:
        raise NotManaged(
            f"secret {secret} is not a managed Customer.io credential ({what} "
            f"{fields[0].rsplit('credential', 1)[0]}managed=true missing): it is provisioned "
            "by the Pulumi program."
        )
    if kind_key not in values:
        raise NotManaged(
            f"secret {secret} has no {what} {kind_key}: the Pulumi program that provisioned it "
            "does not write what this rotator reads; deploy the two from the same commit."
        )
    region = values.get(region_key, "")
    try:
        kind, where = Kind(values[kind_key]), Region(region) if region else None
    except ValueError:
        raise NotManaged(
            f"secret {secret} has {what}s {kind_key}/{region_key} this rotator does not know: "
            "fix them in the Pulumi program, or deploy the rotator that matches it."
        ) from None
    return CredentialConfig(
        id=secret,
        name=values.get(credential) or fallback_name,
        kind=kind,
        region=where,
        workspace=values.get(workspace_key, ""),
        webhook_endpoint=webhook_endpoint,
    )
