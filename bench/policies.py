"""Every IAM and KMS policy document the program generates, and what parliament says.

Run: `.venv/bin/python -m bench.policies`. Renders the AWS half under Pulumi's mocks
with every optional document switched on (chat webhook, consumers), counts documents
by kind and their statements, and prints parliament's findings by severity, before
and after the commented allow-list of tests/aws/test_least_privilege.py.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

from tests.program import policy_docs
from tests.program.harness import make_source_tree

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")


def _allowed() -> dict[tuple[str, str], str]:
    """The suite's allow-list, if this tree has one (an older tree may not)."""
    try:
        from tests.aws.test_least_privilege import ALLOWED
    except ImportError:
        return {}
    return dict(ALLOWED)


def main() -> None:
    allowed = _allowed()
    with tempfile.TemporaryDirectory() as tmp:
        ev = policy_docs.render(make_source_tree(Path(tmp) / "src"), Path(tmp) / "bundles")
    documents = policy_docs.documents(ev)
    kinds = Counter(d.kind for d in documents)
    statements = Counter[str]()
    raw = Counter[str]()
    kept = Counter[str]()
    issues = Counter[str]()
    for document in documents:
        statements[document.kind] += document.statements
        kind = document.kind
        if kind == "resource":
            kind = f"resource:{ev.named(document.resource).type}"
        for finding in policy_docs.analyze(document):
            raw[finding.severity] += 1
            issues[f"{finding.issue} ({finding.severity})"] += 1
            if (kind, finding.issue) not in allowed:
                kept[finding.severity] += 1
    print(f"policy documents: {len(documents)} ({json.dumps(dict(sorted(kinds.items())))})")
    total = sum(statements.values())
    print(f"statements: {total} ({json.dumps(dict(sorted(statements.items())))})")
    print("parliament findings by severity (all / outside the allow-list):")
    for severity in SEVERITIES:
        print(f"  {severity:<8} {raw[severity]:>3} / {kept[severity]}")
    for issue, count in sorted(issues.items()):
        print(f"  {count:>3} x {issue}")


if __name__ == "__main__":
    main()
