"""A caller on the hotline's voice line, as Twilio drives it: signed posts that follow the TwiML's own URLs.

Each answer is parsed as XML (no string matching on TwiML): `Twiml` gives the
verbs, their attributes and what each `<Say>` says in which language.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

from twilio.request_validator import RequestValidator

PUBLIC_URL = "https://hotline.test"


class Twiml:
    """One parsed TwiML answer."""

    def __init__(self, response):
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/xml"
        self.root = ET.fromstring(response.get_data(as_text=True))
        assert self.root.tag == "Response"

    def verbs(self) -> list[str]:
        return [child.tag for child in self.root]

    def one(self, tag: str) -> ET.Element:
        found = self.root.findall(f".//{tag}")
        assert len(found) == 1, (tag, ET.tostring(self.root, encoding="unicode"))
        return found[0]

    def says(self, within: ET.Element | None = None) -> list[tuple[str, str]]:
        """(language, sentence) of every <Say>, in order."""
        node = self.root if within is None else within
        return [(s.get("language", ""), (s.text or "").strip()) for s in node.iter("Say")]

    def spoken(self) -> str:
        return " ".join(text for _, text in self.says())

    @property
    def gather(self) -> ET.Element:
        return self.one("Gather")


class Caller:
    """One phone call to the hotline: `ring()`, then `press(digits)` on whatever the last answer gathers."""

    def __init__(self, client, settings, number: str = "+13235550177"):
        self.client, self.settings, self.number = client, settings, number
        self.validator = RequestValidator(settings.twilio_auth_token)
        self.sid = "CA" + uuid.uuid4().hex
        self.last: Twiml | None = None

    def form(self, **extra) -> dict:
        params = {
            "CallSid": self.sid,
            "AccountSid": self.settings.twilio_account_sid,
            "From": self.number,
            "To": self.settings.twilio_number,
            "CallStatus": "in-progress",
            "Direction": "inbound",
        }
        params.update({k: str(v) for k, v in extra.items() if v is not None})
        return params

    def post(self, url: str, params: dict, sign: bool = True):
        path = url.removeprefix(PUBLIC_URL)
        headers = {}
        if sign:
            headers["X-Twilio-Signature"] = self.validator.compute_signature(PUBLIC_URL + path, params)
        return self.client.post(path, data=params, headers=headers)

    def follow(self, url: str, **extra) -> Twiml:
        self.last = Twiml(self.post(url, self.form(**extra)))
        return self.last

    def ring(self) -> Twiml:
        return self.follow("/twilio/voice")

    def press(self, digits: str = "", **extra) -> Twiml:
        """Answer the last <Gather> (empty: the caller pressed nothing and Twilio posts its action anyway)."""
        assert self.last is not None
        gather = self.last.gather
        assert gather.get("actionOnEmptyResult") == "true"
        return self.follow(gather.get("action"), Digits=digits or None, **extra)
