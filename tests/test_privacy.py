"""Numbers at rest only as keyed hashes or sealed; logs never carry them."""

from __future__ import annotations

import logging

from bot import privacy


def test_contact_id_is_keyed_and_stable():
    a = privacy.contact_id("k1", "+13235550123")
    assert a == privacy.contact_id("k1", "+13235550123")
    assert a != privacy.contact_id("k2", "+13235550123")
    assert "3235550123" not in a
    assert privacy.contact_id("k1", "whatsapp:+13235550123") == a


def test_seal_round_trips_and_rejects_a_foreign_secret():
    token = privacy.seal("k1", "+13235550123")
    assert "3235550123" not in token
    assert privacy.unseal("k1", token) == "+13235550123"
    assert privacy.unseal("k2", token) is None


def test_log_filter_redacts_numbers(caplog):
    logger = logging.getLogger("test.redaction")
    handler = logging.StreamHandler()
    handler.addFilter(privacy.RedactingFilter())
    records = []
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        logger.warning("texting %s now", "+1 (323) 555-0123")
    finally:
        logger.removeHandler(handler)
    assert records and "555" not in records[0].getMessage()
