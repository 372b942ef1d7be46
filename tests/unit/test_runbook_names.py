"""A key has one name from start to finish, whenever the operator gets round to it.

The states are built the way the engine writes them: `key_name` fixed when the
rotation opens, `current_name = key_name` after the promotion, the old key's
name moved to `previous_name`. Whatever the delay before the submission and
however many reminders went out meanwhile, the opening notice, every reminder,
`cio-rotate runbook` (steps) and the delete notice name the same key.
"""

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rotation.credentials import Kind
from rotation.policy import Policy, grace_until
from rotation.runbook import Context, render, steps
from rotation.state import Mode, Phase, RotationState, suggested_key_name

NAME = "billing-events"
OLD_NAME = "billing-events-20250301"
POLICY = Policy()

CREATE = re.compile(r'name it "([^"]+)"')
KEEP = re.compile(r'Keep the new key "([^"]+)"')
DELETE = re.compile(r'Delete the old key "([^"]+)"')


def context(kind: Kind, state: RotationState, now: datetime) -> Context:
    return Context(
        name=NAME, kind=kind, region="us", workspace="1001", state=state, policy=POLICY, now=now
    )


def only(pattern: re.Pattern[str], text: str) -> str:
    found: set[str] = set(pattern.findall(text))
    assert len(found) == 1, (pattern.pattern, found, text)
    return found.pop()


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from([Kind.TRACK, Kind.APP]),
    opened_at=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    delay=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
    reminder_fractions=st.lists(st.floats(min_value=0, max_value=1), max_size=10),
    late_delete=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
)
def test_the_same_name_from_opening_to_deletion(
    kind: Kind,
    opened_at: datetime,
    delay: timedelta,
    reminder_fractions: list[float],
    late_delete: timedelta,
) -> None:
    key_name = suggested_key_name(NAME, opened_at)  # what the engine stores at opening
    opened = RotationState(
        phase=Phase.AWAITING_KEY,
        rotation_id="r1",
        mode=Mode.SCHEDULED,
        opened_at=opened_at,
        deadline=opened_at + timedelta(days=POLICY.lead_days),
        key_name=key_name,
        current_name=OLD_NAME,
        current_since=datetime(2025, 3, 1, tzinfo=UTC),
        current_last4="ab12",
        current_fp="1234abcd",
        current_version="v1",
    )
    names = [only(CREATE, render("opened/r1/1", context(kind, opened, opened_at)).body)]
    submitted_at = opened_at + delay
    state = opened
    for n, fraction in enumerate(sorted(reminder_fractions), 1):
        at = opened_at + delay * fraction
        state = replace(state, followups=n, last_notice_at=at)
        body = render(f"reminder.{n}/r1/{n + 1}", context(kind, state, at)).body
        names.append(only(CREATE, body))
    # `cio-rotate runbook` just before the operator submits
    names.append(only(CREATE, "\n".join(steps(context(kind, state, submitted_at)))))

    grace = grace_until(Mode.SCHEDULED, False, submitted_at, POLICY)
    promoted = replace(
        state,
        phase=Phase.PROMOTED,
        current_name=state.key_name,
        current_since=submitted_at,
        current_last4="cd34" if kind is Kind.TRACK else "",
        current_fp="5678ffff",
        current_version="v2",
        previous_name=state.current_name,
        previous_since=state.current_since,
        previous_last4=state.current_last4,
        previous_fp=state.current_fp,
        previous_version="v1",
        promoted_at=submitted_at,
        grace_until=grace,
        followups=0,
    )
    delete_at = grace + late_delete
    for code in ("revoke_now", "revoke_reminder.1", "revoke_escalated"):
        body = render(f"{code}/r1/20", context(kind, promoted, delete_at)).body
        names.append(only(KEEP, body))
        assert only(DELETE, body) == OLD_NAME
        assert "not named" not in body.lower()

    assert set(names) == {key_name}
    assert key_name == f"{NAME}-{opened_at:%Y-%m-%d}-alfa"
