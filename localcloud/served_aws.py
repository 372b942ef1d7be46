"""A local AWS account served over HTTP, for a `cio-rotate` running in its own process.

moto in server mode on 127.0.0.1, in this process, so the in-process rotator (the
harness's runtime) answers the RotateSecret and Invoke calls the CLI process makes.
Credentials are provisioned as the Pulumi program does, tagged with their stack
(rotation.conventions.TAG_STACK), and the rotator's configuration carries the stack's
policy and name, so a CLI with no outputs file finds them as on a real account. Used by
the CLI's process-level tests and by the benches.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from localcloud.aws_harness import REGION, AwsHarness, fake_aws_environment
from localcloud.customerio import FakeCustomerIO
from rotation.clock import SimulatedClock

STACK = "prod"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServedAws:
    endpoint: str
    harness: AwsHarness
    cio: FakeCustomerIO

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of an operator's shell pointed at this account (no CIO_OUTPUTS)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("CIO_", "AWS_"))}
        return {
            **base,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret (moto's fake credentials)
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "CIO_ACTOR": "operator",
            **extra,
        }

    def provision(self, name: str, kind: str = "track", workspace: str = "1001") -> str:
        return self.harness.provision(name, kind, "us", workspace=workspace)


@contextmanager
def served_aws() -> Iterator[ServedAws]:
    """The account, its rotator and a fake Customer.io, until the block ends. The rotator's
    clock starts at the real time (the CLI process reads the real time)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    fake_aws_environment()
    saved = os.environ.get("AWS_ENDPOINT_URL")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto's backends are this process's: start from an empty account, leave one behind.
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    os.environ["AWS_ENDPOINT_URL"] = endpoint  # the harness's clients
    cio = FakeCustomerIO().start()
    try:
        harness = AwsHarness(
            cio=cio, clock=SimulatedClock(datetime.now(UTC).replace(microsecond=0))
        )
        # Deployed as the stack STACK: its tags, the rotator's CIO_STACK and its names
        # all say so, as one `pulumi up` of that stack would.
        harness.stack.stack = STACK
        with harness.runtime.active():
            yield ServedAws(endpoint, harness, cio)
    finally:
        cio.stop()
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        server.stop()
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = saved
