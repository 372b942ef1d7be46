"""The drain's evidence on AWS: the consumer library's CloudWatch points and CloudTrail's
GetSecretValue history (moto, plus the local CloudTrail event history), read back by
rotation.stores.usage.AwsUsageReader, call by call."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
from cio_consumer import usage as consumer_usage
from cio_consumer.usage import CloudWatchSink, KeyUse
from moto import mock_aws

from localcloud.cloudtrail import CloudTrailHistory
from rotation.drain import drain
from rotation.stores import usage

NOW = datetime(2026, 3, 23, 9, 30, tzinfo=UTC)
PROMOTED = NOW - timedelta(minutes=30)
OLD, NEW = "0ld0ld00", "9e99e999"
SECRET_NAME = "cio/billing-track"  # pragma: allowlist secret (a name)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
)


def test_the_rotator_reads_what_the_library_writes():
    assert usage.AWS_NAMESPACE == consumer_usage.AWS_NAMESPACE
    assert usage.AWS_METRIC == consumer_usage.AWS_METRIC
    assert usage.GCP_METRIC_TYPE == consumer_usage.GCP_METRIC_TYPE


def test_reports_and_reads_through_moto():
    clock = {"now": PROMOTED - timedelta(minutes=10)}
    with mock_aws(), CloudTrailHistory(clock=lambda: clock["now"]).active() as trail:
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        arn = sm.create_secret(Name="cio/billing-track", SecretString="{}")["ARN"]
        iam = boto3.client("iam", region_name="us-east-1")
        sts = boto3.client("sts", region_name="us-east-1")
        roles = {}
        for name in ("app-backend", "legacy-batch"):
            role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]
            creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="app")["Credentials"]
            roles[name] = (
                role["Arn"],
                boto3.client(
                    "secretsmanager",
                    region_name="us-east-1",
                    aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"],
                ),
            )
        # Both applications read before the promotion; only app-backend reads after it.
        for _, client in roles.values():
            client.get_secret_value(SecretId=arn)
        clock["now"] = PROMOTED + timedelta(minutes=5)
        roles["app-backend"][1].get_secret_value(SecretId=SECRET_NAME)

        cw = boto3.client("cloudwatch", region_name="us-east-1")
        CloudWatchSink(cw).send(
            [
                KeyUse("cio/billing-track", NEW, "api", "a:1", NOW - timedelta(minutes=3)),
                KeyUse("cio/billing-track", OLD, "cron", "c:7", NOW - timedelta(minutes=2)),
            ]
        )
        reader = usage.AwsUsageReader(cw, boto3.client("cloudtrail", region_name="us-east-1"))
        evidence = reader.evidence(arn, [OLD, NEW], PROMOTED - timedelta(hours=1), NOW)

    assert evidence.audit_read, evidence.audit_problem
    assert evidence.calls == 4  # ListMetrics x2, GetMetricData, LookupEvents
    assert trail.lookups == 1
    assert {(r.service, r.fingerprint) for r in evidence.reports} == {("api", NEW), ("cron", OLD)}
    reads = {r.principal: r.last_read for r in evidence.reads}
    assert reads[roles["legacy-batch"][0]] < PROMOTED <= reads[roles["app-backend"][0]]
    result = drain(
        evidence.reports,
        evidence.reads,
        old_fingerprint=OLD,
        new_fingerprint=NEW,
        promoted_at=PROMOTED,
        now=NOW,
        quiet=timedelta(minutes=15),
    )
    assert [s.who for s in result.stragglers] == ["cron on c:7", roles["legacy-batch"][0]]


def test_an_unreadable_trail_is_said_not_guessed():
    with mock_aws():
        cw = boto3.client("cloudwatch", region_name="us-east-1")
        # No local CloudTrail history: moto refuses LookupEvents, as a role without
        # cloudtrail:LookupEvents would be refused.
        reader = usage.AwsUsageReader(cw, boto3.client("cloudtrail", region_name="us-east-1"))
        evidence = reader.evidence("arn:aws:secretsmanager:us-east-1:1:secret:x", [OLD], NOW, NOW)
    assert not evidence.audit_read
    assert "CloudTrail could not be read" in evidence.audit_problem
    assert evidence.reads == ()
