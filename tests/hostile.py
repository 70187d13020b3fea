"""A deterministic corpus of hostile Twilio webhooks, for tests/test_fuzz.py and bench/fuzz.py.

Same seed, same corpus: a failure found by the bench can be replayed by index.
The corpus mixes what phones and attackers really send (Unicode digits of every
script, emoji, bidi controls, NUL, format strings, markup, keywords, ZIPs and
coordinates at the edges, replies to dispatch codes) with malformed Twilio forms
(missing or absurd fields, bad signatures, status callbacks with junk). Senders
come from a small pool so conversations advance step by step, as in a raid.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from twilio.request_validator import RequestValidator

DIGIT_ZEROS = (0x30, 0xFF10, 0x1D7CE, 0x1D7EC, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x1040, 0x17E0, 0xA8D0)
"""The zero of some Unicode decimal-digit blocks: ASCII, full-width, math bold/sans, Arabic-Indic, ..."""

WORDS = (
    "hola hi help ayuda stop start borrar delete alertas alerts alerts off yes no si 1 2 3 4 5 ahora now "
    "hace 20 min 3:15pm redada raid checkpoint retén agentes ice masks placas plates english español "
    "join yes 48 no 48 arrived llegué done cerrar menu reporte 0 00 99 -1 1e309 nan inf"
).split()

ODDITIES = (
    "",
    " ",
    "\x00",
    "\u202e\u202d",
    "\ufeff",
    "\u200b" * 40,
    "👮‍♂️🚓🚨",
    "𝕙𝕠𝕝𝕒",
    "{human_number}",
    "{0.__class__}",
    "%s%s%n",
    "<Response><Say>x</Say></Response>",
    "]]>&amp;&#0;",
    "'; DROP TABLE x; --",
    "\r\n\r\n",
    "ﷺ" * 20,
    "Z̸̢͓̈́a̵͉̒l̴̙̈g̴̣̈ő̶̪",
    "9" * 400,
    "33.98,-118.22",
    "33.98 N 118.22 W",
    "91.0,-181.0",
    "-0.0,0.0",
    "1e400,1e400",
    "https://maps.google.com/?q=33.98,-118.22",
    "https://maps.app.goo.gl/" + "x" * 300,
    "geo:33.98,-118.22;u=35",
)


@dataclass(frozen=True)
class Request:
    path: str
    form: dict
    headers: dict


def _digits(rng: random.Random, n: int) -> str:
    zero = rng.choice(DIGIT_ZEROS)
    return "".join(chr(zero + rng.randrange(10)) for _ in range(n))


def _body(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.25:
        return _digits(rng, rng.choice((1, 2, 5, 5, 5, 9, 10)))
    if pick < 0.55:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 6)))
    if pick < 0.8:
        return rng.choice(ODDITIES) + rng.choice(("", " ", " en ")) + _digits(rng, 5)
    if pick < 0.9:
        return "".join(chr(rng.randrange(1, 0xD7FF)) for _ in range(rng.randrange(1, 60)))
    return rng.choice(WORDS) * rng.randrange(1, 400)


def _sender(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.85:
        return f"+1323555{rng.randrange(200):04d}"
    if pick < 0.93:
        return f"whatsapp:+1323555{rng.randrange(200):04d}"
    return rng.choice(("+1", "+", "client:anon", "whatsapp:", "+4420" + "9" * 40, "١٢٣", "+13235550000\x00", "tel:1"))


def _message_form(rng: random.Random, account_sid: str, to: str) -> dict:
    form = {
        "MessageSid": "SM" + uuid.UUID(int=rng.getrandbits(128)).hex,
        "AccountSid": account_sid,
        "From": _sender(rng),
        "To": to,
        "Body": _body(rng),
        "NumMedia": "0",
    }
    pick = rng.random()
    if pick < 0.08:
        form.update(Latitude=rng.choice(("33.98", "nan", "inf", "-91", "1e400", "٣٣")), Longitude="-118.22")
    elif pick < 0.12:
        form.update(Latitude="33.98")  # no longitude
    elif pick < 0.18:
        form.update(NumMedia=rng.choice(("1", "10", "-3", "999999999999", "x", "٢")), MediaUrl0="https://x/" + "a" * 50)
        form["MediaContentType0"] = rng.choice(("image/jpeg", "", "text/html", "\x00"))
    elif pick < 0.22:
        form.pop(rng.choice(("From", "MessageSid", "Body", "To")))
    elif pick < 0.25:
        form["MessageSid"] = rng.choice(("SM", "SM" + "9" * 80, "SM\x00", " "))
    elif pick < 0.28:
        form["ProfileName"] = _body(rng)
    return form


def _status_form(rng: random.Random, account_sid: str) -> dict:
    form = {
        "MessageSid": "SM" + uuid.UUID(int=rng.getrandbits(128)).hex,
        "AccountSid": account_sid,
        "MessageStatus": rng.choice(("queued", "sent", "delivered", "undelivered", "failed", "read", "bogus", "")),
    }
    if rng.random() < 0.5:
        form["ErrorCode"] = rng.choice(("30003", "21610", "x", "-1", "99999999999999999999", "３０００３"))
    return form


def corpus(
    count: int, *, auth_token: str, public_url: str, account_sid: str, to: str, seed: int = 10
) -> Iterator[Request]:
    """Yield `count` signed (mostly) hostile webhook requests, the same ones for the same seed."""
    rng = random.Random(seed)
    validator = RequestValidator(auth_token)
    base = public_url.rstrip("/")
    for _ in range(count):
        if rng.random() < 0.12:
            path, form = "/twilio/status", _status_form(rng, account_sid)
        else:
            path, form = "/twilio/messages", _message_form(rng, account_sid, to)
        headers = {"X-Twilio-Signature": validator.compute_signature(base + path, form)}
        pick = rng.random()
        if pick < 0.03:
            headers["X-Twilio-Signature"] = "bm90IGEgc2lnbmF0dXJl"
        elif pick < 0.05:
            headers.pop("X-Twilio-Signature")
        yield Request(path, form, headers)
