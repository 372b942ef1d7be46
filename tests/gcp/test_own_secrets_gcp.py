"""Issue 21: the function acts only on secrets its own stack created (GCP).

A secret labelled like a managed credential but without this stack's label (or with
another stack's) is refused from the GetSecret its snapshot makes anyway: the request is
acknowledged without action (redelivery cannot change whose it is), and nothing of the
secret is written: no state annotation, no version, no notice.
"""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.gcp_harness import PROJECT
from rotation import conventions as cv
from rotation.credentials import Kind, Region
from rotation.metadata import gcp_config_labels
from rotation.stores.gcp import crc32c

NAME = "marketing-track"


def _squatter(gcp: Any, secret_id: str, stack: str | None) -> str:
    labels = gcp_config_labels(secret_id, Kind.TRACK, Region.US, "111")
    if stack is not None:
        labels[cv.GCP_LABEL_STACK] = stack
    secret = gcp.client.create_secret(
        request={
            "parent": f"projects/{PROJECT}",
            "secret_id": secret_id,
            "secret": {"replication": {"automatic": {}}, "labels": labels},
        }
    )
    data = b'{"site_id": "s", "api_key": "theirs", "region": "us"}'
    gcp.client.add_secret_version(
        request={"parent": secret.name, "payload": {"data": data, "data_crc32c": crc32c(data)}}
    )
    return str(secret.name)


def _footprint(gcp: Any, name: str) -> tuple[Any, ...]:
    secret = gcp.client.get_secret(name=name)
    versions = [(v.name, v.state) for v in gcp.client.list_secret_versions(parent=name)]
    return dict(secret.annotations), dict(secret.version_aliases), secret.etag, versions


@pytest.mark.parametrize("owner", [None, "someone-elses"], ids=["unlabelled", "other-stack"])
def test_a_secret_the_stack_did_not_create_is_never_acted_on(
    gcp: Any, cio: Any, owner: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    gcp.provision(NAME, "track", "us", workspace="111")
    squatter = _squatter(gcp, "cio-squatter", owner)
    before = _footprint(gcp, squatter)
    for doc in [
        {"action": cv.ACTION_RECONCILE, "secret_id": squatter},
        {"action": cv.ACTION_EMERGENCY, "secret_id": squatter, "reason": "drill", "actor": "x"},
        {"action": cv.ACTION_ROLLBACK, "secret_id": squatter, "actor": "x"},
    ]:
        assert 200 <= gcp.action(doc) < 300  # acknowledged: redelivery cannot help
    gcp.action({"action": cv.ACTION_SWEEP, "secret_ids": [squatter, gcp.secrets[NAME]]})
    gcp.pump()
    assert _footprint(gcp, squatter) == before
    assert [n.credential for n in gcp.notifier.sent] in ([], [NAME])  # the sweep's own one
    refusals = [r.getMessage() for r in caplog.records if "belongs to" in r.getMessage()]
    assert len(refusals) == 4  # three requests and the sweep's unit, each named
    assert all("cio-squatter" in m and "rotator's stack 'local'" in m for m in refusals)
