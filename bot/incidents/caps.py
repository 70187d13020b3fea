"""Flood caps: how many new incidents one contact (and the web chat as a whole) may open before they are held.

A real reporter on a raid day reports the scene in front of them, perhaps a
second one as the agents move on, and sends updates (which join the same
incident and are never counted). A flood — one number scripted to send
hundreds of reports — opens a new incident with every text. So a cap a real
reporter never reaches (defaults in `bot/config.py`, reasoning in
docs/abuse.md) separates the two: beyond it a new incident is still kept,
shown to coordinators on the console as "not dispatched: flood cap", and the
reporter gets the same calm reply as anyone (telling them would teach the
script where the line is); it is just not dispatched. Coordinators release a
held incident with one click (`bot.dispatch.lifecycle.release`), and another
reporter not over their own cap reporting the same scene releases it too.

Scopes, narrowest first: every contact (a phone number or a web chat id;
both are `contact_id`s) has its own caps. Web chat ids cost nothing to mint
(a browser drops its cookie and has a new one), so the web chats of one client
also share caps — the client as the web layer's rate limits count it, a keyed
hash of its address (`bot.guard.client_key`, handed down as `Inbound.client`;
no address reaches Redis) — and every web chat together shares one cap per
hour. Trusted contacts (`hotline contacts trust`) are exempt.

A held incident counts against the scope that held it and the narrower ones,
not the wider ones: a flood stays held by its own caps without using up the
web's shared hour for every other client.

Cost on the hot path: none in round trips. `queue_check` queues
`flood_cap.lua` on the same MULTI as the merge; it leaves its verdict for
`incident_merge.lua`, which counts the incident it opens against each scope.
"""

from __future__ import annotations

from .. import lua, store

HELD_REASON = "flood cap"
"""What a held incident's `held` field and timeline say: the console shows "not dispatched: flood cap"."""

WEB_CHANNEL = "web"
"""The channel whose contacts (chat ids) also share one cap: bot.channels.webchat.CHANNEL."""


def scopes(settings, contact_id: str, channel: str, client: str = "") -> list[tuple[str, list[list[int]]]]:
    """The cap scopes a report from this contact counts against, narrowest first: (sorted-set key, [[window_s,
    max], ...]). `client`: a web chat's client (its keyed hash, `Inbound.client`); empty elsewhere."""
    found = [
        (
            store.caps_key(f"contact:{contact_id}"),
            [[600, settings.cap_contact_10min], [3600, settings.cap_contact_hour]],
        )
    ]
    if channel == WEB_CHANNEL:
        if client:
            found.append(
                (
                    store.caps_key(f"client:{client}"),
                    [[600, settings.cap_client_10min], [3600, settings.cap_client_hour]],
                )
            )
        found.append((store.caps_key(f"channel:{channel}"), [[3600, settings.cap_web_hour]]))
    return found


def keep_s(found: list[tuple[str, list[list[int]]]]) -> int:
    """How long a scope must remember a new incident: its longest window."""
    return max(window for _key, limits in found for window, _max in limits)


def queue_check(pipe, settings, contact_id: str, channel: str, now: float, member: str = "", client: str = "") -> None:
    """Queue the cap check on a pipeline (one answer: [held, scope index, count, the contact's recent count]).

    With `member` (an unplaced report's ref) the report is counted now; without
    it the merge queued next counts the incident if it opens one.
    """
    found = scopes(settings, contact_id, channel, client)
    lua.run(
        pipe,
        "flood_cap",
        [store.contact_key(contact_id), store.caps_verdict_key(contact_id), *(key for key, _ in found)],
        now=repr(float(now)),
        limits=[limits for _key, limits in found],
        keep_s=keep_s(found),
        member=member,
    )


def check(r, settings, contact_id: str, channel: str, now: float, member: str, client: str = "") -> bool:
    """Count one report that opens no incident (an unplaced one) and tell whether it is over a cap."""
    pipe = r.pipeline(transaction=True)
    queue_check(pipe, settings, contact_id, channel, now, member, client)
    (held, _which, _count, _recent), *_ = pipe.execute()
    return bool(held)


def merge_keys(settings, contact_id: str, channel: str, client: str = "") -> list[str]:
    """The keys `incident_merge.lua` takes after its own: the verdict, then each scope's sorted set."""
    return [store.caps_verdict_key(contact_id), *(key for key, _ in scopes(settings, contact_id, channel, client))]
