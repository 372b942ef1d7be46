import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from rotation.notices import Notice
from rotation.state import Mode, Phase, RotationState, tag_safe

AWS_TAG_VALUE = re.compile(r"^[\w\s.:/=+\-@]{0,256}$")
times = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
ids = st.text(alphabet="abcdef0123456789-", max_size=40)


@given(
    phase=st.sampled_from(Phase),
    mode=st.none() | st.sampled_from(Mode),
    opened=st.none() | times,
    followups=st.integers(0, 50),
    flag=st.booleans(),
    version=ids,
    outbox=st.lists(
        st.from_regex(r"[a-z_]{3,12}(\.[0-9a-f]{1,8})?/r[0-9]{10}-[0-9a-f]{4}", fullmatch=True),
        max_size=4,
    ),
    reason=st.text(max_size=300),
)
def test_state_round_trips_through_tag_safe_fields(
    phase, mode, opened, followups, flag, version, outbox, reason
):
    state = RotationState(
        phase=phase,
        mode=mode,
        opened_at=opened,
        followups=followups,
        escalated=flag,
        current_version=version,
        outbox=tuple(outbox),
        reason=tag_safe(reason),
    )
    fields = state.to_fields()
    assert all(AWS_TAG_VALUE.match(v) for v in fields.values()), fields
    assert RotationState.from_fields(fields) == state


def test_tag_safe_folds_punctuation():
    assert tag_safe("key (leaked), see #123!") == "key -leaked-- see -123-"


def test_with_notice_is_idempotent():
    st0 = RotationState(rotation_id="r1")
    once = st0.with_notice(Notice.OPENED)
    assert once.with_notice(Notice.OPENED) == once
    assert once.outbox == ("opened/r1/1",)
    twice = once.with_notice(Notice.REMINDER, 1)
    assert twice.outbox == ("opened/r1/1", "reminder.1/r1/2") and twice.notice_seq == 2
