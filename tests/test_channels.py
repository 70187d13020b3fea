"""The channel seam: every channel registered once, asked for its capabilities, never tested by name."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from bot import outbox, privacy, spool, whatsapp_window
from bot.channels import Inbound, registry, twilio, webchat
from bot.errors import PermanentSend
from bot.privacy import seal_bytes

BOT = Path(__file__).resolve().parent.parent / "bot"


def test_every_parsed_channel_is_registered_with_its_capabilities():
    sms = twilio.parse_inbound({"From": "+13235550101", "MessageSid": "SM1", "Body": "hi"})
    wa = twilio.parse_inbound({"From": "whatsapp:+13235550101", "MessageSid": "SM2", "Body": "hi"})
    web = webchat.parse_inbound(json.dumps({"id": "msg-0001", "text": "hi"}).encode(), "a" * 24)
    for inbound in (sms, wa, web):
        assert registry.get(inbound.channel).owns(inbound.address)
        assert registry.for_address(inbound.address).name == inbound.channel
    assert [sms.can_text_later, wa.can_text_later, web.can_text_later] == [True, True, False]
    assert all(registry.get(i.channel).max_body_chars == 1600 for i in (sms, wa, web))


def test_outbox_sends_through_the_addresss_channel(rt, twilio_outbox):
    contact = privacy.contact_id(rt.settings.secret, "whatsapp:+13235550102")
    whatsapp_window.queue_note_inbound(rt.r, contact, time.time())  # they wrote: a freeform reply may go
    assert outbox.send(rt, "whatsapp:+13235550102", "hello", purpose="reply")
    assert [m["to"] for m in twilio_outbox.messages()] == ["whatsapp:+13235550102"]
    with pytest.raises(PermanentSend, match="web cannot be texted later"):
        outbox.send(rt, "web:" + "b" * 24, "hello", purpose="reply")
    assert len(twilio_outbox.messages()) == 1, "a web chat address never reaches Twilio"


def test_no_module_tests_a_channel_by_name():
    tests = [
        f"{p.relative_to(BOT)}:{n}"
        for p in BOT.rglob("*.py")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"channel\s*[!=]=\s*[\"']", line)
    ]
    assert tests == [], "ask the channel's capabilities (channels.registry) instead"


def test_a_message_spooled_before_the_address_rename_still_replays(settings):
    old = {"channel": "sms", "e164": "+13235550103", "body": "hola", "message_sid": "SMold", "media": []}
    path = spool.path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(seal_bytes(settings.secret, json.dumps({"inbound": old, "received_at": 1.0}).encode()) + b"\n")
    held = spool.claim(settings)
    [item] = held.items
    held.done = 1
    held.finish(settings)
    inbound, at = item.inbound, item.received_at
    assert (inbound.address, inbound.body, at) == ("+13235550103", "hola", 1.0)
    assert isinstance(inbound, Inbound)
