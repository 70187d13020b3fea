"""DELETE forgets a contact, but never the protections: an opt-out or a coordinator's block."""

from __future__ import annotations

from bot import contacts, incidents, store


def test_erase_keeps_a_block_but_forgets_language_and_trust(r):
    incidents.set_trust(r, "c-blocked", "blocked")
    r.hset(store.contact_key("c-blocked"), "lang", "es")
    incidents.set_trust(r, "c-trusted", "trusted")
    contacts.erase(r, "c-blocked")
    contacts.erase(r, "c-trusted")
    assert incidents.trust_of(r, "c-blocked") == "blocked"
    assert r.hget(store.contact_key("c-blocked"), "lang") is None
    assert incidents.trust_of(r, "c-trusted") is None


def test_erase_keeps_an_opt_out(r):
    contacts.opt_out(r, "c1")
    contacts.erase(r, "c1")
    assert contacts.is_opted_out(r, "c1")


def test_borrar_by_text_does_not_unblock(phone, r, settings):
    from bot.privacy import contact_id

    cid = contact_id(settings.secret, "+13235550166")
    incidents.set_trust(r, cid, "blocked")
    assert phone.text("BORRAR", from_="+13235550166")
    assert incidents.trust_of(r, cid) == "blocked"
