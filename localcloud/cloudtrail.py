"""CloudTrail's event history for Secrets Manager reads, which moto does not keep.

AWS records every `GetSecretValue` as a management event that `LookupEvents` finds for
90 days with no trail configured. moto implements neither the recording nor
`LookupEvents`; this module adds both, the documented way round:

- each `GetSecretValue` answered by moto (or refused: `errorCode` set) is recorded with
  the caller's identity as CloudTrail writes it: an assumed role's session under
  `userIdentity.sessionContext.sessionIssuer.arn`, an IAM user's ARN, else the
  account's root; `requestParameters.secretId` as the caller passed it;
- `LookupEvents` answers newest first, 50 a page at most, one lookup attribute
  (EventName, EventSource, ResourceName, Username), StartTime/EndTime, NextToken.

Event times come from `clock` (the local stack's simulated time), so a test can read
"who read before the promotion" in simulated time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.responses import SecretsManagerResponse


@dataclass
class CloudTrailHistory:
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    events: list[dict[str, Any]] = field(default_factory=list)
    lookups: int = 0

    def identity(self, response: SecretsManagerResponse) -> dict[str, Any]:
        """The caller as CloudTrail names it, from the request's access key."""
        access_key = response.get_access_key()
        account = response.current_account or DEFAULT_ACCOUNT_ID
        try:
            from moto.sts.models import sts_backends

            role = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
        except Exception:
            role = None
        if role is not None:
            issuer = role.role_arn if hasattr(role, "role_arn") else ""
            return {
                "type": "AssumedRole",
                "arn": role.arn,
                "accountId": account,
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer}},
            }
        try:
            from moto.iam.models import iam_backends

            user = iam_backends[account]["aws"].get_user_from_access_key_id(access_key)
        except Exception:
            user = None
        if user is not None:
            return {"type": "IAMUser", "arn": user.arn, "accountId": account}
        return {"type": "Root", "arn": f"arn:aws:iam::{account}:root", "accountId": account}

    def record(self, response: SecretsManagerResponse, error: str | None) -> None:
        params = json.loads(response.body or "{}") if isinstance(response.body, str) else {}
        params = params or {}
        record: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": self.identity(response),
            "eventTime": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "GetSecretValue",
            "awsRegion": response.region,
            "requestParameters": {
                k: v for k, v in params.items() if k in ("SecretId", "VersionStage", "VersionId")
            },
            "responseElements": None,
            "readOnly": True,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "eventCategory": "Management",
            "eventID": str(uuid.uuid4()),
        }
        # CloudTrail writes request parameters in camelCase.
        record["requestParameters"] = {
            k[0].lower() + k[1:]: v for k, v in record["requestParameters"].items()
        }
        if error:
            record["errorCode"] = error
        self.events.append(record)

    def lookup(self, params: dict[str, Any]) -> dict[str, Any]:
        self.lookups += 1
        attributes = params.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise ValueError("LookupEvents takes one lookup attribute")
        start = _time(params.get("StartTime"))
        end = _time(params.get("EndTime"))
        chosen = []
        for record in reversed(self.events):  # newest first
            at = _event_time(record)
            if (start and at < start) or (end and at > end):
                continue
            if attributes and not _matches(record, attributes[0]):
                continue
            chosen.append(record)
        offset = int(params.get("NextToken") or 0)
        size = min(int(params.get("MaxResults") or 50), 50)
        page = chosen[offset : offset + size]
        out: dict[str, Any] = {
            "Events": [
                {
                    "EventId": r["eventID"],
                    "EventName": r["eventName"],
                    "ReadOnly": "true",
                    "EventTime": _event_time(r).timestamp(),
                    "EventSource": r["eventSource"],
                    "Username": r["userIdentity"]["arn"].rsplit("/", 1)[-1],
                    "Resources": [],
                    "CloudTrailEvent": json.dumps(r),
                }
                for r in page
            ]
        }
        if offset + size < len(chosen):
            out["NextToken"] = str(offset + size)
        return out

    @contextmanager
    def active(self) -> Iterator[CloudTrailHistory]:
        history = self
        original = SecretsManagerResponse.get_secret_value

        def get_secret_value(response: SecretsManagerResponse) -> str:
            try:
                result = original(response)
            except Exception as err:
                history.record(response, getattr(err, "code", type(err).__name__))
                raise
            history.record(response, None)
            return result

        def lookup_events(response: CloudTrailResponse) -> str:
            return json.dumps(history.lookup(json.loads(response.body or "{}")))

        with (
            patch.object(SecretsManagerResponse, "get_secret_value", get_secret_value),
            patch.object(CloudTrailResponse, "lookup_events", lookup_events, create=True),
        ):
            yield self


_ANYONE_MAY_ASSUME = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
)


def assumed_role_client(name: str, region: str) -> tuple[str, Any]:
    """A principal of its own: a new role (its ARN, as CloudTrail names the reader) and a
    Secrets Manager client acting as a session of it."""
    import boto3

    iam = boto3.client("iam", region_name=region)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_ANYONE_MAY_ASSUME)["Role"]
    creds = boto3.client("sts", region_name=region).assume_role(
        RoleArn=arn["Arn"], RoleSessionName=name
    )["Credentials"]
    client = boto3.client(
        "secretsmanager",
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    return str(arn["Arn"]), client


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _event_time(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["eventTime"]).replace("Z", "+00:00"))


def _matches(record: dict[str, Any], attribute: dict[str, str]) -> bool:
    key, value = attribute.get("AttributeKey"), attribute.get("AttributeValue")
    if key == "EventName":
        return bool(record["eventName"] == value)
    if key == "EventSource":
        return bool(record["eventSource"] == value)
    if key == "Username":
        return bool(record["userIdentity"]["arn"].rsplit("/", 1)[-1] == value)
    if key == "ResourceName":
        return bool(record["requestParameters"].get("secretId") == value)
    raise ValueError(f"unsupported lookup attribute {key}")
