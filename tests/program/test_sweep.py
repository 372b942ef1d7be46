"""The daily sweep: one schedule whose input names every credential, size-checked."""

from __future__ import annotations

import json

import pytest

from infra import sweep
from rotation import conventions as cv


def test_10000_credentials_fit_in_one_aws_schedule() -> None:
    names = [f"cio/cred-{i:05d}" for i in range(10_000)]
    event = json.loads(sweep.manifest_event(names, sweep.AWS_INPUT_LIMIT_BYTES))
    assert event == {"action": cv.ACTION_SWEEP, "secret_ids": names}


def test_event_shape_is_the_conventions_one() -> None:
    event = json.loads(sweep.sweep_event(["arn:1", "arn:2"]))
    assert event == {"action": cv.ACTION_SWEEP, "secret_ids": ["arn:1", "arn:2"]}


def test_an_oversized_manifest_is_refused_saying_what_fits() -> None:
    names = ["cio/" + "x" * 500] * 600
    with pytest.raises(sweep.ManifestTooLarge, match=r"holds 262144 bytes \(about 515 "):
        sweep.manifest_event(names, sweep.AWS_INPUT_LIMIT_BYTES)


def test_crons_fire_at_six_utc() -> None:
    assert sweep.AWS_CRON == "cron(0 6 * * ? *)" and sweep.GCP_CRON == "0 6 * * *"
