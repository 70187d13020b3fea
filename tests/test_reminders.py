"""The timer job texts from above the conversation; a job queued under the old path still runs."""

from __future__ import annotations

from bot import privacy
from bot.conversation import sessions, timers


def test_a_timer_queued_under_the_old_job_path_is_handed_to_the_new_one(phone, settings, r, rt, twilio_outbox, worker):
    sender = "+13235550189"
    assert phone.text("report", from_=sender)[0].startswith("Hotline: where is it happening?")
    session = sessions.load(r, privacy.contact_id(settings.secret, sender))
    cid = privacy.contact_id(settings.secret, sender)
    # as queued by a release before the sending job moved up: the path RQ stored is the old one
    rt.queue(timers.QUEUE).enqueue("bot.conversation.timers.fire", cid, session.counter, "remind", 0.0)
    worker()
    texts = [m["body"] for m in twilio_outbox.messages() if m["to"] == sender]
    assert len(texts) == 1 and texts[0].startswith("Still there? Send the cross streets")


def test_timers_decide_and_never_send(phone, settings, r, rt, twilio_outbox):
    sender = "+13235550190"
    phone.text("report", from_=sender)
    cid = privacy.contact_id(settings.secret, sender)
    session = sessions.load(r, cid)
    due = timers.due(rt, cid, session.counter, "remind", 0.0)
    assert due.status == "reminded" and due.address == sender and due.bodies[0].startswith("Still there?")
    assert twilio_outbox.messages() == []  # deciding sent nothing; bot.reminders.fire sends
    assert timers.due(rt, cid, session.counter, "remind", 0.0).status == "already reminded"
