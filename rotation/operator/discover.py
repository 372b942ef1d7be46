"""Finding the stack with nothing but the operator's cloud credentials: no outputs file.

On AWS the live secrets carry the program's tags (rotation.conventions): ListSecrets
with a tag filter names every managed credential, its kind, region and Pulumi stack,
and the rotation function it is bound to (`RotationLambdaARN`). The function's
configuration (GetFunctionConfiguration, on that function only) gives the rest: its
log group and the rotator's policy, as the same `CIO_*` variables the rotator reads
(`Policy.from_env`). ListSecrets cannot be scoped to resources (AWS offers no
resource-level permission for it), so the operator role is granted exactly that one
action on `*`, and the policy pack allows exactly that exception; it returns
metadata only, never a value.

Nothing here is secret: names, ARNs, tags and the policy's numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rotation import conventions as cv
from rotation.operator.config import ConfigError, CredentialRef, OperatorConfig
from rotation.policy import Policy


class NoStackFound(ConfigError):
    """Discovery found no managed credential the operator may see."""

    code = "config_error"


class AmbiguousStack(ConfigError):
    """Several stacks were found and --stack did not pick one."""

    code = "usage"


@dataclass(frozen=True)
class Found:
    """One stack's credentials on one cloud, as discovery saw them."""

    stack: str  # "" when the secrets predate the stack tag
    cloud: str
    config: OperatorConfig


def _tags(entry: Mapping[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in entry.get("Tags", [])}


def function_of(lambda_arn: str) -> str:
    """arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] -> NAME."""
    parts = lambda_arn.split(":")
    return parts[6] if len(parts) > 6 and parts[5] == "function" else lambda_arn


def aws_stacks(session: Any, region: str) -> list[Found]:
    """Every stack whose managed secrets the operator can list in `region`: one ListSecrets
    (paged), then one GetFunctionConfiguration per stack."""
    sm = session.client("secretsmanager", region_name=region or None)
    by_stack: dict[str, list[tuple[CredentialRef, str]]] = defaultdict(list)
    pages = sm.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "tag-key", "Values": [cv.TAG_MANAGED]}]
    )
    for page in pages:
        for entry in page.get("SecretList", []):
            tags = _tags(entry)
            name = tags.get(cv.TAG_CREDENTIAL)
            if tags.get(cv.TAG_MANAGED) != "true" or not name:
                continue
            ref = CredentialRef(
                name,
                "aws",
                str(entry["ARN"]),
                tags.get(cv.TAG_KIND, ""),
                tags.get(cv.TAG_REGION, ""),
            )
            function = function_of(str(entry.get("RotationLambdaARN") or ""))
            by_stack[tags.get(cv.TAG_STACK, "")].append((ref, function))
    found: list[Found] = []
    lam = session.client("lambda", region_name=region or None) if by_stack else None
    for stack, items in sorted(by_stack.items()):
        function = next((f for _, f in items if f), "")
        config = OperatorConfig(
            aws_region=region,
            function_name=function,
            credentials=tuple(sorted((ref for ref, _ in items), key=lambda r: r.name)),
            source=_source(stack, f"tags in {region or 'the default region'}"),
            stack=stack,
        )
        if function and lam is not None:
            config = _with_function(config, lam, function)
        found.append(Found(stack, "aws", config))
    return found


def _with_function(config: OperatorConfig, lam: Any, function: str) -> OperatorConfig:
    """The rotator's log group and policy, from its configuration. A refusal leaves the
    defaults and says so in `policy_note` (dates may then differ from the notices)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        got = lam.get_function_configuration(FunctionName=function)
    except (ClientError, BotoCoreError) as err:
        return replace(
            config,
            policy_note=f"the rotator's policy could not be read ({type(err).__name__}: "
            "lambda:GetFunctionConfiguration); dates use the defaults",
        )
    env = dict((got.get("Environment") or {}).get("Variables") or {})
    log_group = str((got.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{function}")
    try:
        policy = Policy.from_env(env)
        note = ""
    except ValueError as err:
        policy, note = Policy(), f"the rotator's policy is invalid ({err}); dates use the defaults"
    return replace(config, log_group=log_group, policy=policy, policy_note=note)


def gcp_stacks(client: Any, project: str) -> list[Found]:
    """Every stack whose managed secrets the operator can list in `project`: one
    ListSecrets (label filter). The rotation topic is the secret's own; the calendar's
    length is its rotation period, the rest of the policy is the defaults (said so)."""
    by_stack: dict[str, list[CredentialRef]] = defaultdict(list)
    topics: dict[str, str] = {}
    days: dict[str, int] = {}
    request = {"parent": f"projects/{project}", "filter": f"labels.{cv.GCP_LABEL_MANAGED}=true"}
    for secret in client.list_secrets(request=request):
        labels = dict(secret.labels)
        name = labels.get(cv.GCP_LABEL_CREDENTIAL)
        if labels.get(cv.GCP_LABEL_MANAGED) != "true" or not name:
            continue
        stack = labels.get(cv.GCP_LABEL_STACK, "")
        kind = labels.get(cv.GCP_LABEL_KIND, "").replace("-", "_")
        ref = CredentialRef(
            name, "gcp", str(secret.name), kind, labels.get(cv.GCP_LABEL_REGION, "")
        )
        by_stack[stack].append(ref)
        for topic in getattr(secret, "topics", []) or []:
            topics.setdefault(stack, str(topic.name))
        period = getattr(getattr(secret, "rotation", None), "rotation_period", None)
        seconds = int(period.total_seconds()) if period is not None and period else 0
        if seconds and seconds % 86_400 == 0:
            days.setdefault(stack, seconds // 86_400)
    found: list[Found] = []
    for stack, refs in sorted(by_stack.items()):
        policy, note = Policy(), "the lead, grace and reminder times are the defaults"
        if stack in days:
            try:
                policy = Policy(rotation_days=days[stack])
            except ValueError:
                note = "the rotation period is not a policy the CLI knows; dates use the defaults"
        config = OperatorConfig(
            gcp_topic=topics.get(stack, ""),
            credentials=tuple(sorted(refs, key=lambda r: r.name)),
            source=_source(stack, f"labels in project {project}"),
            policy=policy,
            policy_note=f"{note} (pass --outputs for the stack's own policy)",
            stack=stack,
        )
        found.append(Found(stack, "gcp", config))
    return found


def _source(stack: str, where: str) -> str:
    return f"stack {stack} (found by {where})" if stack else f"untagged stack (found by {where})"


def choose(found: Sequence[Found], stack: str | None, tried: Sequence[str]) -> OperatorConfig:
    """The one stack to act on: `stack` if given, else the only one found. Credentials of
    one stack on both clouds are merged (--cloud then picks)."""
    names = sorted({f.stack or "(untagged)" for f in found})
    if not found:
        raise NoStackFound(
            "No managed credentials were found with your cloud credentials ("
            + "; ".join(tried)
            + "). Log in with the stack's operator role (see the README's operator guide), or "
            "pass the stack outputs: `pulumi stack output --json > outputs.json`, then "
            "`--outputs outputs.json`."
        )
    if stack is not None:
        picked = [f for f in found if f.stack == stack]
        if not picked:
            raise AmbiguousStack(
                f"--stack {stack}: no such stack among those found ({', '.join(names)}). "
                f"Use one of them: --stack {names[0]}."
            )
    else:
        if len(names) > 1:
            raise AmbiguousStack(
                f"Several stacks were found ({', '.join(names)}): pick one with --stack, "
                f"e.g. --stack {names[0]}."
            )
        picked = list(found)
    config = picked[0].config
    for other in picked[1:]:
        config = replace(
            config,
            aws_region=config.aws_region or other.config.aws_region,
            function_name=config.function_name or other.config.function_name,
            log_group=config.log_group or other.config.log_group,
            gcp_topic=config.gcp_topic or other.config.gcp_topic,
            credentials=config.credentials + other.config.credentials,
            source=f"{config.source}; {other.config.source}",
            policy_note=config.policy_note or other.config.policy_note,
        )
    return config


GCP_PROJECT_VARIABLES = ("CIO_GCP_PROJECT", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")


def discover(
    overrides: Any,
    *,
    cloud: str | None,
    region: str | None,
    stack: str | None,
    env: Mapping[str, str] | None = None,
) -> OperatorConfig:
    """The stack to act on, from what the operator's credentials can list.

    AWS is asked first (the region: --region, CIO_AWS_REGION, else the profile's). GCP
    is asked with --cloud gcp, when a project is named (CIO_GCP_PROJECT,
    GOOGLE_CLOUD_PROJECT, CLOUDSDK_CORE_PROJECT) or when AWS found nothing; its project
    is that variable's, else the one Application Default Credentials name."""
    import os

    env = os.environ if env is None else env
    tried: list[str] = []
    found: list[Found] = []
    if cloud in (None, "aws"):
        found += _try_aws(overrides, region or env.get("CIO_AWS_REGION") or "", tried)
    project = next((env[v] for v in GCP_PROJECT_VARIABLES if env.get(v)), "")
    if cloud == "gcp" or (cloud is None and (project or not found)):
        found += _try_gcp(overrides, project, tried)
    return choose(found, stack, tried)


def _try_aws(overrides: Any, region: str, tried: list[str]) -> list[Found]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from rotation.operator.aws import translate

    session = overrides.session or boto3.session.Session()
    region = region or session.region_name or ""
    if session.get_credentials() is None:
        tried.append("AWS: no credentials")
        return []
    if not region:
        tried.append("AWS: no region (set AWS_REGION or --region)")
        return []
    try:
        found = aws_stacks(session, region)
    except (ClientError, BotoCoreError) as err:
        tried.append(f"AWS {region}: {translate(err, 'secretsmanager', 'list secrets')}")
        return []
    tried.append(f"AWS {region}: {len(found)} stack{'s' * (len(found) != 1)}")
    return found


def _try_gcp(overrides: Any, project: str, tried: list[str]) -> list[Found]:
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    client = overrides.gcp_client
    try:
        if not project:
            import google.auth

            _, default_project = google.auth.default()
            project = default_project or ""
        if not project:
            tried.append("GCP: no project (set CIO_GCP_PROJECT)")
            return []
        if client is None:
            from rotation.stores.gcp import build_client

            client = build_client()
        found = gcp_stacks(client, str(project))
    except auth_exc.DefaultCredentialsError:
        tried.append("GCP: no Application Default Credentials")
        return []
    except gexc.GoogleAPICallError as err:
        tried.append(f"GCP {project}: {type(err).__name__} listing secrets")
        return []
    tried.append(f"GCP {project}: {len(found)} stack{'s' * (len(found) != 1)}")
    return found
