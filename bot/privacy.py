"""Every hash and seal of a phone number, log redaction, and the retention purge.

People in this data are at risk: a number is known at rest only as a keyed hash
(`contact_id`), and the few numbers a later text must reach are sealed
(encrypted) with a TTL. An unkeyed hash of a phone number is brute-forced in
minutes, hence HMAC with `HOTLINE_SECRET`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re

from cryptography.fernet import Fernet, InvalidToken

CONTACT_ID_BYTES = 16
"""128 bits of HMAC: collision-free for any realistic roster, short in keys."""

_PHONE_RE = re.compile(r"(?:whatsapp:)?\+?\d[\d\s().-]{7,}\d")

_NOT_A_NUMBER = (
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?: ?[+-]\d{2}:?\d{2}|Z)?"  # a log timestamp
    r"|(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])(?::\d{1,5}(?!\d))?"  # an IPv4 address and port: "Listening at: http://127.0.0.1:8000"
)
_REDACT_RE = re.compile(rf"(?P<keep>{_NOT_A_NUMBER})|{_PHONE_RE.pattern}")
"""Digit runs that look like a phone number are blanked; timestamps and IP addresses (the
server's own start-up and access lines) are tried first and kept."""


def contact_id(secret: str, e164: str) -> str:
    """Return the keyed hash that stands for a number everywhere at rest."""
    address = e164.removeprefix("whatsapp:")
    digest = hmac.new(secret.encode(), address.encode(), hashlib.sha256).digest()
    return digest[:CONTACT_ID_BYTES].hex()


def _fernet(secret: str) -> Fernet:
    # Derive a separate key for sealing so the HMAC key is never the cipher key.
    key = hashlib.sha256(b"hotline-seal:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, e164: str) -> str:
    """Encrypt a number that a later text must reach (observer, follow-up)."""
    return _fernet(secret).encrypt(e164.encode()).decode()


def unseal(secret: str, token: str) -> str | None:
    """Decrypt a sealed number; None when it was sealed under another secret."""
    try:
        return _fernet(secret).decrypt(token.encode()).decode()
    except InvalidToken:  # a rotated secret: the number is simply unreachable
        return None


def seal_bytes(secret: str, data: bytes) -> bytes:
    """Encrypt a whole record (the outage spool) under the sealing key."""
    return _fernet(secret).encrypt(data)


def unseal_bytes(secret: str, token: bytes) -> bytes:
    """Decrypt a record sealed by seal_bytes; raises InvalidToken on a foreign key."""
    return _fernet(secret).decrypt(token)


_QUERY_RE = re.compile(r"(https?://[^\s?'\"]+)\?[^\s'\"]*")

GUNICORN_LOGGERS = ("gunicorn.error", "gunicorn.access")
"""The server's own loggers (they do not propagate to the root): a worker's traceback goes there."""


def _number_or_kept(match: re.Match) -> str:
    kept = match.group("keep")
    if kept is None:
        return "[number]"
    address = kept.split(":")[0].split(" ")[0]
    if "-" not in kept and any(int(part) > 255 for part in address.split(".")):
        return "[number]"  # four dotted groups that cannot be an IP address: a number written with dots
    return kept


def redact(text: str) -> str:
    """Blank out anything that looks like a phone number, and URL query strings (a geocoder's `?q=` words)."""
    return _QUERY_RE.sub(r"\1?[query]", _REDACT_RE.sub(_number_or_kept, text))


class RedactingFilter(logging.Filter):
    """Logging filter that removes phone numbers from every record it passes, tracebacks included.

    A formatted traceback (`log.exception`, `exc_info=True`, `stack_info=True`)
    quotes exception messages, which can hold a number or a URL with a caller's
    words; it is rendered here, redacted into `exc_text`, and the raw exception
    dropped from the record so no handler can render it again unredacted.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):  # a malformed format string: log it raw
                record.msg = str(record.msg)
            record.args = None
        record.msg = redact(str(record.msg))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to the root handlers and the server's own (idempotent)."""
    root = logger or logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO)
    handlers = list(root.handlers)
    if logger is None:
        handlers += [h for name in GUNICORN_LOGGERS for h in logging.getLogger(name).handlers]
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
