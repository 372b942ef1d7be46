from datetime import timedelta


def test_bootstrap_then_scheduled_rotation(aws, cio, clock):
    arn = aws.provision("marketing-track", "track", "us", workspace="111")
    first = cio.new_track_key("111")
    out = aws.submit("marketing-track", first)
    assert out["outcome"] == "submitted", out
    assert aws.current_value("marketing-track")["api_key"] == first.secret
    clock.advance(timedelta(days=77))
    aws.sweep()
    snap = aws.rt.store.snapshot(arn)
    assert snap.state.phase.value == "awaiting_key"
    wrong = cio.new_track_key("222")
    out = aws.submit("marketing-track", wrong)
    assert aws.current_value("marketing-track")["api_key"] == first.secret
    good = cio.new_track_key("111")
    out = aws.submit("marketing-track", good)
    assert aws.current_value("marketing-track")["api_key"] == good.secret, (
        out,
        aws.runtime.rotation_events,
    )
    clock.advance(timedelta(days=2))
    aws.sweep()
    cio.delete_key(first)
    clock.advance(timedelta(days=4))
    aws.sweep()
    assert aws.rt.store.snapshot(arn).state.phase.value == "idle"
    for n in aws.notifications():
        print(n["subject"])
