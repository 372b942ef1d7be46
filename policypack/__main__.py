"""Policy pack of the Customer.io rotation stack: `pulumi up --policy-pack policypack`.

The Pulumi CLI runs this file from inside the pack directory; the repository root
goes on sys.path so the pack's modules import the same way as in the tests.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policypack.policies import build_policies

PolicyPack(name="cio-rotation-policies", policies=build_policies())
