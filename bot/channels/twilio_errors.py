"""What each Twilio error code means for the hotline: the one classification table.

A Twilio error is about one of four things, and each is handled differently:

- `recipient`: this number can never get this text (invalid, landline, opted out). The
  person is marked unreachable (21610: opted out) and coordinators hear once.
- `transient`: this number could not get it now (handset off, carrier hiccup, expired in
  Twilio's queue). The dispatch slot moves on now; the person stays on the roster.
- `content`: the text itself was refused (carrier filtering, too long, WhatsApp window).
  It would fail for every recipient of that text, so coordinators are warned once; nobody
  is marked unreachable.
- `sender`: the hotline's account, credentials or sending number are wrong (rotated auth
  token, suspended account, unregistered number). Sending pauses, the queue is kept, the
  roster is never touched, and a probe lifts the pause when the cause is fixed.
- `retry`: Twilio itself is busy or failing (429, 5xx, queue overflow): retry with backoff.

Every code cites Twilio's own error dictionary page (`source`); a code missing from
the table is classified by HTTP status, conservatively: never as the recipient's fault.
"""

from __future__ import annotations

from dataclasses import dataclass

RECIPIENT, TRANSIENT, CONTENT, SENDER, RETRY = "recipient", "transient", "content", "sender", "retry"
"""The five kinds of Twilio failure (see the module docstring)."""

ERROR_DOCS = "https://www.twilio.com/docs/api/errors/"
"""Twilio's error dictionary: one page per code, the source of every row below."""


@dataclass(frozen=True)
class TwilioError:
    """One classified failure: its kind, a short reason word, and Twilio's page for it."""

    code: int | None
    kind: str
    reason: str

    @property
    def source(self) -> str:
        return f"{ERROR_DOCS}{self.code}" if self.code else "https://www.twilio.com/docs/usage/twilios-response"


_TABLE: dict[int, tuple[str, str]] = {
    # recipient: this number will never receive it
    21211: (RECIPIENT, "invalid_number"),  # Invalid 'To' Phone Number
    21214: (RECIPIENT, "unreachable_number"),  # 'To' phone number cannot be reached
    21265: (RECIPIENT, "short_code_recipient"),  # 'To' number cannot be a Short Code
    21610: (RECIPIENT, "opted_out"),  # Attempt to send to unsubscribed recipient (replied STOP)
    21612: (RECIPIENT, "unroutable"),  # 'To' number not reachable via this channel
    21614: (RECIPIENT, "not_mobile"),  # 'To' number is not a valid mobile number
    21635: (RECIPIENT, "landline"),  # 'To' number cannot be a landline
    30004: (RECIPIENT, "blocked"),  # Message blocked (recipient or carrier block list)
    30005: (RECIPIENT, "unknown_destination"),  # Unknown destination handset
    30006: (RECIPIENT, "landline_or_unreachable"),  # Landline or unreachable carrier
    63003: (RECIPIENT, "no_whatsapp"),  # Channel could not find To address (not on WhatsApp)
    63024: (RECIPIENT, "invalid_whatsapp_recipient"),  # Invalid message recipient
    # transient: not now, maybe later
    30003: (TRANSIENT, "handset_unreachable"),  # Unreachable destination handset (off, no signal)
    30008: (TRANSIENT, "unknown_error"),  # Unknown error (carrier)
    30009: (TRANSIENT, "missing_segment"),  # Missing inbound segment
    30036: (TRANSIENT, "expired"),  # Validity Period Expired: Twilio dropped it as too late
    30001: (TRANSIENT, "queue_overflow"),  # Queue overflow (Messaging Service senders overloaded)
    # content: the text, not the person, was refused
    21617: (CONTENT, "too_long"),  # The concatenated message body exceeds the 1600 character limit
    30007: (CONTENT, "filtered"),  # Message filtered (carrier spam filter)
    30019: (CONTENT, "content_too_big"),  # Content size exceeds carrier limit
    63016: (CONTENT, "outside_whatsapp_window"),  # Outside messaging window: use a template
    63005: (CONTENT, "channel_refused"),  # Channel did not accept given content
    63027: (CONTENT, "template_missing"),  # Template does not exist for a language and locale
    63028: (CONTENT, "template_parameters"),  # Number of parameters provided does not match the expected number
    21602: (CONTENT, "body_required"),  # Message body is required (one text's bug, not the account)
    21604: (CONTENT, "to_required"),  # 'To' phone number is required (one record's bug)
    # sender / account / configuration: the hotline's side; never the roster
    20003: (SENDER, "authentication"),  # Authenticate: wrong account SID or auth token
    20404: (SENDER, "not_found"),  # The requested resource was not found (account, service)
    20005: (SENDER, "account_not_active"),  # Account not active
    21212: (SENDER, "invalid_from"),  # Invalid 'From' Phone Number
    21408: (SENDER, "region_disabled"),  # Permission to send to this region is not enabled
    21601: (SENDER, "from_not_sms_capable"),  # Phone number is not a valid SMS-capable inbound number
    21603: (SENDER, "from_required"),  # 'From' phone number is required
    21606: (SENDER, "from_not_capable"),  # 'From' is not a valid message-capable Twilio number
    21608: (SENDER, "trial_unverified"),  # Trial account may text only verified numbers
    21659: (SENDER, "from_not_twilio"),  # 'From' is not a Twilio phone number
    21661: (SENDER, "from_not_sms_capable"),  # 'From' number is not SMS-capable
    21701: (SENDER, "messaging_service_invalid"),  # The Messaging Service does not exist
    21703: (SENDER, "messaging_service_empty"),  # The Messaging Service has no phone numbers in its pool
    21704: (SENDER, "messaging_service_empty"),  # The Messaging Service contains no phone numbers
    30002: (SENDER, "account_suspended"),  # Account suspended
    30010: (SENDER, "max_price"),  # Message price exceeds max price
    30032: (SENDER, "toll_free_unverified"),  # Toll-Free Number Has Not Been Verified
    30034: (SENDER, "unregistered_10dlc"),  # US A2P 10DLC - Message from an Unregistered Number
    63007: (SENDER, "whatsapp_sender_not_found"),  # Twilio could not find a Channel with the From address
    # retry: Twilio or its rate limits, not anyone's fault
    20429: (RETRY, "too_many_requests"),  # Too Many Requests
    20500: (RETRY, "twilio_error"),  # Internal Server Error
    20503: (RETRY, "twilio_unavailable"),  # Service Unavailable
    21611: (RETRY, "from_queue_full"),  # 'From' number has exceeded the maximum number of queued messages
    20009: (RETRY, "not_complete"),  # Cannot delete this resource before it is complete
    63018: (RETRY, "whatsapp_rate_limit"),  # Rate limit exceeded for Channel
}
"""Code → (kind, reason). The comment on each row is the title of Twilio's page for it."""

NOT_COMPLETE = 20009
"""Twilio refuses to delete a resource (message, call) that is not complete yet."""

OPTED_OUT = 21610
"""Twilio's code for a recipient who replied STOP (Twilio itself blocks later sends)."""

EXPIRED = 30036
"""Twilio dropped a message whose ValidityPeriod elapsed in its queue."""

OUTSIDE_WINDOW = 63016
"""WhatsApp freeform text more than 24 hours after the contact's last message."""

WHATSAPP_UNDELIVERABLE = frozenset({OUTSIDE_WINDOW, 63027, 63028})
"""A WhatsApp text refused for the window or its template: the contact never got it, and only a
fixed template configuration (or the contact writing again) changes that."""


def classify(code: int | None, http_status: int | None = None) -> TwilioError:
    """Classify a Twilio failure by its code, else by HTTP status (API call) or as transient (callback).

    An unknown 4xx is `content`, not `recipient`: without Twilio saying so, nobody is
    taken off the roster for it. 401/403 are `sender` whatever the code.
    """
    if code in _TABLE:
        kind, reason = _TABLE[code]
        return TwilioError(code, kind, reason)
    if http_status is None:  # a status callback's unknown code, or no answer at all
        return TwilioError(code, TRANSIENT if code else RETRY, f"code_{code}" if code else "unreachable")
    if http_status in (401, 403):
        return TwilioError(code, SENDER, "authentication")
    if http_status == 429 or http_status >= 500:
        return TwilioError(code, RETRY, f"http_{http_status}")
    return TwilioError(code, CONTENT, f"code_{code or http_status}")


def table() -> list[TwilioError]:
    """Every code the hotline knows, in table order (docs and tests read it)."""
    return [TwilioError(code, kind, reason) for code, (kind, reason) in _TABLE.items()]
