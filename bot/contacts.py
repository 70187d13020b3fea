"""What the hotline remembers about a contact between conversations, and forgetting it.

Only a few things: a language preference, whether they texted STOP (kept even
after DELETE, so a number that opted out stays suppressed), the live session,
a coordinator's trust/block mark, and when they first reported (`first_seen`,
set by the merge script: a burst of never-seen numbers is a trap's signature,
docs/incidents.md). Everything is keyed by contact_id, never by number
(docs/privacy.md).
"""

from __future__ import annotations

from . import lua, store

PREFS_TTL_S = 180 * 24 * 3600
"""A language preference is forgotten after six months without a text."""


def queue_load(pipe, contact_id: str) -> None:
    """Queue reading a contact's preferences and opt-out flag on a pipeline (two answers)."""
    pipe.hgetall(store.contact_key(contact_id))
    pipe.sismember(store.optout_key(), contact_id)


def queue_set_language(pipe, contact_id: str, lang: str) -> None:
    """Queue remembering a contact's language."""
    key = store.contact_key(contact_id)
    pipe.hset(key, "lang", lang)
    pipe.expire(key, PREFS_TTL_S)


def opt_out(r, contact_id: str) -> None:
    """Record STOP: nothing more is sent, and the live conversation ends."""
    pipe = r.pipeline(transaction=True)
    pipe.sadd(store.optout_key(), contact_id)
    pipe.delete(store.session_key(contact_id), store.reply_to_key(contact_id))
    pipe.execute()


def opt_in(r, contact_id: str) -> None:
    """Record START: the contact may be texted again."""
    r.srem(store.optout_key(), contact_id)


def is_opted_out(r, contact_id: str) -> bool:
    """Tell whether a contact texted STOP."""
    return bool(r.sismember(store.optout_key(), contact_id))


def erase(r, contact_id: str) -> None:
    """Forget a contact's session, language, sealed reply number and WhatsApp window; keep an opt-out and a block.

    A coordinator's `blocked` mark survives: otherwise someone abusing the hotline
    to send observers after their neighbors could clear it by texting BORRAR. The
    contact's id leaves its open incidents in the same step (`forget_in_open_incidents`).
    """
    _forget(r, contact_id, erase=True)


def forget_in_open_incidents(r, contact_id: str) -> int:
    """Take a contact's id out of every open incident (reporter set and timeline); the count stays.

    Closed incidents lose every reporter id at thinning anyway (retention); an
    open one would otherwise keep it for as long as it stays open. The incidents
    are the contact's own index (`store.contact_incidents_key`, kept by the merge),
    so a DELETE costs one Lua step (`bot/lua/contact_forget.lua`) with ten open
    incidents or ten thousand — a flood script texts DELETE before every report.
    Timelines no longer name reporters (the merge writes `anonymous_timeline`);
    one written before that is rewritten without the id. Open incidents from
    before the index (an upgrade) are searched too, until none is left.
    """
    return _forget(r, contact_id, erase=False)


def _forget(r, contact_id: str, erase: bool) -> int:
    keys = [store.contact_incidents_key(contact_id), store.contact_index_from_key()]
    if erase:
        keys += [
            store.session_key(contact_id),
            store.contact_key(contact_id),
            store.reply_to_key(contact_id),
            store.whatsapp_window_key(contact_id),
        ]
    removed, rewrite, since = lua.run(
        r,
        "contact_forget",
        keys,
        contact_id=contact_id,
        reporters_tpl=store.incident_reporters_key("@ID@"),
        incident_tpl=store.incident_key("@ID@"),
        erase=erase,
    )
    older = _older_than_the_index(r, since)
    if older:  # an upgrade's incidents, reported to before the index: one SREM each, as before it
        pipe = r.pipeline(transaction=False)
        ids = sorted(older, key=int)
        for incident_id in ids:
            pipe.srem(store.incident_reporters_key(incident_id), contact_id)
        gone = [i for i, hit in zip(ids, pipe.execute()) if hit]
        for incident_id in gone:
            pipe.hincrby(store.incident_key(incident_id), "reporters_forgotten", 1)
        pipe.execute()
        removed, rewrite = removed + len(gone), [*rewrite, *gone]
    for incident_id in rewrite:
        store.rewrite_stream(
            r,
            store.incident_timeline_key(incident_id),
            lambda fields: {k: ("" if k == "reporter" and v == contact_id else v) for k, v in fields.items()},
        )
    return int(removed)


def _older_than_the_index(r, since: str | None) -> set[str]:
    """Open incidents whose reporters may predate the index; marks the index complete once there are none."""
    if since == "0":
        return set()
    open_ids = r.zrange(store.incidents_time_key(), 0, -1)
    older = {i for i in open_ids if since is None or int(i) < int(since)}
    if since is not None and not older:
        r.set(store.contact_index_from_key(), "0")
    return older


def index(pipe, incident_id: str, reporters) -> None:
    """Queue adding an incident to its reporters' indexes (a coordinator's merge moves reporters)."""
    for contact_id in reporters:
        pipe.sadd(store.contact_incidents_key(contact_id), incident_id)


def unindex(pipe, incident_id: str, reporters) -> None:
    """Queue taking an incident out of its reporters' indexes (retention drops its reporter ids)."""
    for contact_id in reporters:
        pipe.srem(store.contact_incidents_key(contact_id), incident_id)
