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


def redact(text: str) -> str:
    """Blank out anything that looks like a phone number."""
    return _PHONE_RE.sub("[number]", text)


class RedactingFilter(logging.Filter):
    """Logging filter that removes phone numbers from every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):  # a malformed format string: log it raw
                record.msg = str(record.msg)
            record.args = None
        record.msg = redact(str(record.msg))
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to the root handlers (idempotent)."""
    root = logger or logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
