"""Where a notice comes from: the cloud, the Pulumi stack, the AWS account and region or
the GCP project, read once from the function's environment.

Every notice names them (several stacks and both clouds may page the same people), and
every command a notice prints carries `--cloud` and `--stack`, so it works when pasted
on a machine that knows several stacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rotation import conventions as cv

CLOUD_WORDS = {"aws": "AWS", "gcp": "GCP"}


@dataclass(frozen=True)
class Origin:
    """The cloud ("aws" | "gcp"), the stack's name, and the account/region or project."""

    cloud: str = ""
    stack: str = ""
    account: str = ""  # AWS account id
    region: str = ""  # AWS region
    project: str = ""  # GCP project id

    @property
    def cloud_word(self) -> str:
        return CLOUD_WORDS.get(self.cloud, self.cloud.upper())

    def place(self) -> str:
        """`account 123456789012, eu-west-1` or `project acme-prod`: where the secrets are."""
        if self.cloud == "gcp":
            return f"project {self.project}" if self.project else ""
        parts = [f"account {self.account}" if self.account else "", self.region]
        return ", ".join(p for p in parts if p)

    def short(self) -> str:
        """For subjects: `AWS stack prod 123456789012 eu-west-1` / `GCP stack prod acme`."""
        parts = [self.cloud_word, f"stack {self.stack}" if self.stack else ""]
        parts += [self.account, self.region, self.project]
        return " ".join(p for p in parts if p)

    def flags(self) -> str:
        """The global options that select this stack and cloud in the operator CLI."""
        out = [
            f"--cloud {self.cloud}" if self.cloud else "",
            f"--stack {self.stack}" if self.stack else "",
        ]
        return " ".join(p for p in out if p)


def aws_origin(env: Mapping[str, str]) -> Origin:
    """The rotation Lambda's origin: its stack (CIO_STACK), its region (AWS_REGION, set by
    Lambda) and its account, read from the notifications topic's ARN the stack set."""
    account = ""
    arn = env.get(cv.ENV_SNS_TOPIC_ARN, "")
    parts = arn.split(":")
    if len(parts) >= 6 and parts[0] == "arn":
        account = parts[4]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION", "")
    return Origin("aws", env.get(cv.ENV_STACK, ""), account=account, region=region)


def gcp_origin(env: Mapping[str, str]) -> Origin:
    """The Cloud Function's origin: its stack (CIO_STACK) and GOOGLE_CLOUD_PROJECT."""
    return Origin("gcp", env.get(cv.ENV_STACK, ""), project=env.get("GOOGLE_CLOUD_PROJECT", ""))
