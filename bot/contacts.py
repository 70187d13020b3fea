"""What the hotline remembers about a contact between conversations, and forgetting it.

Only a few things: a language preference, whether they texted STOP (kept even
after DELETE, so a number that opted out stays suppressed), the live session,
a coordinator's trust/block mark, and when they first reported (`first_seen`,
set by the merge script: a burst of never-seen numbers is a trap's signature,
docs/incidents.md). Everything is keyed by contact_id, never by number
(docs/privacy.md).
"""

from __future__ import annotations

from . import store

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
    to send observers after their neighbors could clear it by texting BORRAR.
    """
    key = store.contact_key(contact_id)
    blocked = r.hget(key, "trust") == "blocked"
    pipe = r.pipeline(transaction=True)
    pipe.delete(
        store.session_key(contact_id), key, store.reply_to_key(contact_id), store.whatsapp_window_key(contact_id)
    )
    if blocked:
        pipe.hset(key, "trust", "blocked")
    pipe.execute()
    forget_in_open_incidents(r, contact_id)


def forget_in_open_incidents(r, contact_id: str) -> int:
    """Take a contact's id out of every open incident (reporter set and timeline); the count stays.

    Closed incidents lose every reporter id at thinning anyway (retention); an
    open one would otherwise keep it for as long as it stays open. The incidents
    are the contact's own index (`store.contact_incidents_key`, kept by the merge),
    so a DELETE costs the same with ten open incidents or ten thousand — a flood
    script texting DELETE before every report made it read every open incident,
    one round trip each (100 ms per DELETE at 1,000 open). Open incidents from
    before the index (an upgrade) are searched too, until none is left.
    """
    pipe = r.pipeline(transaction=False)
    pipe.smembers(store.contact_incidents_key(contact_id))
    pipe.get(store.contact_index_from_key())
    indexed, since = pipe.execute()
    candidates = set(indexed) | _older_than_the_index(r, since)
    ids = sorted(candidates, key=int)
    for incident_id in ids:
        pipe.srem(store.incident_reporters_key(incident_id), contact_id)
    removed = [i for i, gone in zip(ids, pipe.execute()) if gone]
    for incident_id in removed:
        r.hincrby(store.incident_key(incident_id), "reporters_forgotten", 1)  # incidents adds it to the count
        store.rewrite_stream(
            r,
            store.incident_timeline_key(incident_id),
            lambda fields: {k: ("" if k == "reporter" and v == contact_id else v) for k, v in fields.items()},
        )
    r.delete(store.contact_incidents_key(contact_id))
    return len(removed)


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
