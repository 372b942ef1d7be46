import json
from collections import Counter
from typing import Any

import pytest
from cio_consumer.credentials import TrackCredentials
from cio_consumer.erasure import (
    DEFERRED,
    FAILED,
    SUPPRESSED,
    Eraser,
    Journal,
    StaticCredentials,
    TokenBucket,
    retry_after_seconds,
)
from cio_consumer.errors import CredentialsRejected

from tests.consumer.stores import Ticker


class Interrupted(Exception):
    pass


def creds_for(fake, region="us") -> TrackCredentials:
    key = fake.new_track_key("111", region)
    assert key.site_id is not None
    return TrackCredentials(key.site_id, key.secret, region)


def eraser_for(fake, creds, tmp_path, **options):
    t = Ticker()
    options.setdefault("rate", 1000.0)
    eraser = Eraser(
        StaticCredentials(creds),
        base_url=fake.base_url,
        audit=tmp_path / "audit.jsonl",
        sleep=t.sleep,
        monotonic=t,
        **options,
    )
    return eraser, t


def audit_lines(tmp_path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]


def test_suppress_one_person_and_audit_without_any_key(fake, tmp_path):
    creds = creds_for(fake)
    eraser, _ = eraser_for(fake, creds, tmp_path)
    result = eraser.suppress("ada@example.com", request_id="DSAR-42", actor="privacy-team")
    assert result.outcome == SUPPRESSED
    assert fake.suppressed == ["ada@example.com"]
    text = (tmp_path / "audit.jsonl").read_text()
    assert creds.api_key not in text
    (record,) = audit_lines(tmp_path)
    assert record["person_id"] == "ada@example.com"
    assert record["outcome"] == "suppressed"
    assert record["request_id"] == "DSAR-42"
    assert record["key_fp"] == creds.fingerprint
    assert record["region"] == "us"
    assert (tmp_path / "audit.jsonl").stat().st_mode & 0o777 == 0o600


def test_regional_host_from_the_override(fake, tmp_path, monkeypatch):
    creds = creds_for(fake, "eu")
    monkeypatch.setenv("CUSTOMERIO_TRACK_URL", fake.base_url)
    eraser = Eraser(StaticCredentials(creds), sleep=lambda s: None)
    assert eraser.url(creds, "p/1").endswith("/eu/api/v1/customers/p%2F1/suppress")
    assert eraser.suppress("eu-person").outcome == SUPPRESSED
    assert ("/eu/api/v1/customers/eu-person/suppress", 200) in fake.log
    monkeypatch.delenv("CUSTOMERIO_TRACK_URL")
    assert (
        Eraser(StaticCredentials(creds))
        .url(creds, "x")
        .startswith("https://track-eu.customer.io/api/v1/customers/x")
    )


def test_429_is_retried_honouring_retry_after(fake, tmp_path):
    eraser, t = eraser_for(fake, creds_for(fake), tmp_path)
    fake.fail_next(429, retry_after="7")
    fake.fail_next(503)
    result = eraser.suppress("busy-person")
    assert result.outcome == SUPPRESSED
    assert result.attempts == 3
    assert t.slept[0] >= 7
    assert t.slept[1] < 7
    assert fake.suppressed == ["busy-person"]


def test_other_4xx_is_failed_without_retry(fake, tmp_path):
    eraser, t = eraser_for(fake, creds_for(fake), tmp_path)
    fake.fail_next(404)
    result = eraser.suppress("unknown-person")
    assert (result.outcome, result.status, result.attempts) == (FAILED, 404, 1)
    assert t.slept == []
    assert audit_lines(tmp_path)[0]["outcome"] == "failed"


def test_retries_exhausted_is_deferred(fake, tmp_path):
    eraser, t = eraser_for(fake, creds_for(fake), tmp_path, max_attempts=3)
    fake.fail_next(500, times=3)
    result = eraser.suppress("p")
    assert (result.outcome, result.attempts) == (DEFERRED, 3)
    assert len(t.slept) == 2 and t.slept[1] > t.slept[0]


def test_rejected_credentials_stop_the_run_without_blaming_the_person(fake, tmp_path):
    creds = creds_for(fake)
    fake.delete_key(TrackCredentialsAsKey(creds))
    eraser, _ = eraser_for(fake, creds, tmp_path)
    with pytest.raises(CredentialsRejected, match=creds.fingerprint) as err:
        eraser.bulk_suppress(["a", "b"], journal=tmp_path / "journal.jsonl")
    assert creds.api_key not in str(err.value)
    assert Journal(tmp_path / "journal.jsonl").outcome("a") is None
    assert fake.suppressed == []


def TrackCredentialsAsKey(creds):
    from rotation.credentials import Credential, Kind, Region

    return Credential(Kind.TRACK, creds.api_key, Region(creds.region), creds.site_id)


def interrupt_after(ids, n):
    for i, person in enumerate(ids):
        if i == n:
            raise Interrupted("operator pressed Ctrl-C")
        yield person


def test_bulk_erasure_resumes_after_an_interruption_without_doing_anyone_twice(fake, tmp_path):
    ids = [f"person-{i:03d}" for i in range(40)]
    journal = tmp_path / "journal.jsonl"
    eraser, _ = eraser_for(fake, creds_for(fake), tmp_path)
    fake.fail_next(429, retry_after="1")
    with pytest.raises(Interrupted):
        eraser.bulk_suppress(interrupt_after(ids, 17), journal=journal)
    assert len(fake.suppressed) == 17

    # A new process, the same list: the journal says who is done.
    eraser, _ = eraser_for(fake, creds_for(fake), tmp_path)
    summary = eraser.bulk_suppress(ids, journal=journal, progress=True)
    assert (summary.skipped, summary.suppressed, summary.failed) == (17, 23, 0)
    assert summary.complete
    counts = Counter(fake.suppressed)
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1

    # Running it again does nothing at all.
    requests_before = len(fake.log)
    again = eraser.bulk_suppress(ids, journal=journal)
    assert again.skipped == 40 and again.suppressed == 0
    assert len(fake.log) == requests_before
    assert len(audit_lines(tmp_path)) == 40


def test_bulk_records_failures_and_retries_deferred_ids_next_run(fake, tmp_path):
    journal = tmp_path / "journal.jsonl"
    eraser, _ = eraser_for(fake, creds_for(fake), tmp_path, max_attempts=2)
    fake.fail_next(400)  # "a" is refused: recorded as failed
    fake.fail_next(502, times=2)  # "b" runs out of retries: deferred
    summary = eraser.bulk_suppress(["a", "b", "c", "c"], journal=journal)
    assert (summary.failed_ids, summary.deferred_ids) == (["a"], ["b"])
    assert summary.suppressed == 1 and summary.skipped == 1  # the duplicate "c"
    assert not summary.complete
    summary = eraser.bulk_suppress(["a", "b", "c"], journal=journal)
    assert (summary.skipped, summary.suppressed) == (2, 1)
    assert Counter(fake.suppressed) == {"b": 1, "c": 1}
    retried = eraser.bulk_suppress(["a"], journal=journal, retry_failed=True)
    assert retried.suppressed == 1


def test_journal_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"id":"a","outcome":"suppressed"}\n{"id":"b","outc')
    journal = Journal(path)
    assert journal.outcome("a") == "suppressed"
    assert journal.outcome("b") is None
    journal.close()


def test_token_bucket_paces_to_the_rate():
    t = Ticker()
    bucket = TokenBucket(10, capacity=1, monotonic=t, sleep=t.sleep)
    for _ in range(21):
        bucket.acquire()
    assert t.now == pytest.approx(2.0)


def test_token_bucket_allows_a_burst_then_the_rate():
    t = Ticker()
    bucket = TokenBucket(10, monotonic=t, sleep=t.sleep)
    for _ in range(10):
        bucket.acquire()
    assert t.now == 0
    for _ in range(5):
        bucket.acquire()
    assert t.now == pytest.approx(0.5)


def test_bulk_is_paced_by_the_default_rate(fake, tmp_path):
    t = Ticker()
    eraser = Eraser(
        StaticCredentials(creds_for(fake)),
        base_url=fake.base_url,
        sleep=t.sleep,
        monotonic=t,
    )
    eraser.bulk_suppress([f"r{i}" for i in range(30)], journal=tmp_path / "j.jsonl")
    assert t.now >= 2.0 - 1e-6  # 30 requests at 10/s after a burst of 10


def test_retry_after_forms():
    assert retry_after_seconds("5") == 5
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480) == 10
