"""Daily sweep planning: every credential in exactly one staggered, size-checked chunk."""

from __future__ import annotations

import json

import pytest

from infra import sweep
from rotation import conventions as cv


def test_500_credentials_fit_in_staggered_chunks() -> None:
    names = [f"cio/credential-with-a-long-name-{i:04d}" for i in range(500)]
    chunks = sweep.plan_chunks(names)
    assert len(chunks) == 10
    assert [n for c in chunks for n in c.credentials] == names
    assert all(len(c.credentials) <= sweep.CHUNK_SIZE for c in chunks)
    for chunk in chunks:
        assert sweep.max_event_bytes(chunk.credentials) <= sweep.AWS_INPUT_LIMIT_BYTES
    times = [(c.hour, c.minute) for c in chunks]
    assert times == sorted(set(times)), "schedules must not fire together"
    assert chunks[0].aws_cron == "cron(0 6 * * ? *)"
    assert chunks[1].aws_cron == "cron(10 6 * * ? *)"
    assert chunks[9].gcp_cron == "30 7 * * *"


def test_the_bound_covers_the_longest_real_arn() -> None:
    name = "cio/" + "x" * 40
    longest_real = f"arn:aws-iso-b:secretsmanager:us-isob-east-1:123456789012:secret:{name}-AbCdEf"
    assert sweep.max_event_bytes([name]) >= len(sweep.sweep_event([longest_real]).encode())


def test_event_shape_is_the_conventions_one() -> None:
    event = json.loads(sweep.sweep_event(["arn:1", "arn:2"]))
    assert event == {"action": cv.ACTION_SWEEP, "secret_ids": ["arn:1", "arn:2"]}


def test_oversized_chunks_are_refused() -> None:
    with pytest.raises(ValueError, match="256 KB"):
        sweep.plan_chunks(["cio/" + "x" * 500] * 600, chunk_size=600)
    with pytest.raises(ValueError, match="at least 1"):
        sweep.plan_chunks(["a"], chunk_size=0)
