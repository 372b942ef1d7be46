"""Secret Manager's per-project quota on metadata reads, kept by the function itself.

Google's quotas (per project, per minute): accesses 90,000, but `GetSecret`,
`ListSecretVersions`, `GetSecretVersion` and the other reads 600, and writes 600. An
idle credential's daily unit reads its secret's metadata once (`GetSecret`, then the
current version's payload), so a daily pass paced only by Customer.io's 10 probes/s
would spend the project's whole read quota, and operators' `cio-rotate status` (a
`GetSecret` per credential) would be refused while it runs. Each function instance
therefore paces its metadata reads at its share (CIO_GCP_READ_RATE) of
`ROTATOR_READS_PER_SECOND`, which leaves the rest of the quota to people and
applications. Accesses are not paced: their quota is 150 times larger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rotation import conventions as cv
from rotation.clock import Pace
from rotation.verify import RateLimiter, rate_setting

PROJECT_READS_PER_MINUTE = 600  # Secret Manager's documented quota (CUSTOMERIO.md)
ROTATOR_READS_PER_SECOND = 8.0  # 480 a minute for the rotator, 120 left for people
PACED = frozenset({"get_secret", "list_secret_versions", "get_secret_version"})


def read_rate(env: Mapping[str, str]) -> float:
    """This instance's metadata reads per second (CIO_GCP_READ_RATE), the whole share unset."""
    return rate_setting(
        env,
        cv.ENV_GCP_READ_RATE,
        ROTATOR_READS_PER_SECOND,
        PROJECT_READS_PER_MINUTE / 60,
        f" (Secret Manager's {PROJECT_READS_PER_MINUTE} metadata reads a minute per project)",
    )


class PacedReads:
    """The Secret Manager client, with each metadata read waiting at `limiter` first."""

    def __init__(self, client: Any, limiter: RateLimiter) -> None:
        self._client = client
        self.limiter = limiter

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in PACED:
            return attribute

        def paced(*args: Any, **kwargs: Any) -> Any:
            self.limiter.acquire()
            return attribute(*args, **kwargs)

        return paced


def paced_reads(client: Any, env: Mapping[str, str], pace: Pace | None) -> PacedReads:
    """Counted over a minute, as Google counts the quota: a promotion's dozen reads go at
    once, and only a pass over hundreds of credentials waits."""
    return PacedReads(client, RateLimiter(read_rate(env), pace, per=60.0))
