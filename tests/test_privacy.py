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


def _emitted(logger_name: str, log) -> list[str]:
    """Run `log(logger)` with a redacting handler; return what the handler's formatter wrote."""
    logger = logging.getLogger(logger_name)
    handler = logging.StreamHandler()
    handler.addFilter(privacy.RedactingFilter())
    lines: list[str] = []
    handler.emit = lambda record: lines.append(handler.format(record))
    logger.addHandler(handler)
    try:
        log(logger)
    finally:
        logger.removeHandler(handler)
    return lines


def test_log_filter_redacts_formatted_tracebacks():
    def log(logger):
        try:
            raise ValueError("could not text +1 (323) 555-0123 via http://geo.local/search?q=behind+the+swap+meet")
        except ValueError:
            logger.exception("sending failed")

    [text] = _emitted("test.redaction.traceback", log)
    assert "Traceback (most recent call last)" in text and "ValueError" in text, "the traceback is still logged"
    assert "555" not in text and "swap" not in text and "[number]" in text and "?[query]" in text


def test_log_filter_keeps_the_servers_own_start_up_lines():
    lines = [
        "[2026-12-01 10:31:05 +0000] [4242] [INFO] Starting gunicorn 23.0.0",
        "[2026-12-01 10:31:05 +0000] [4242] [INFO] Listening at: http://127.0.0.1:8000 (4242)",
        "[2026-12-01 10:31:05 +0000] [4243] [INFO] Booting worker with pid: 4243",
        '127.0.0.1 - - [01/Dec/2026:10:31:06 +0000] "GET /healthz HTTP/1.1" 200 2',
    ]
    for line in lines:
        assert privacy.redact(line) == line
    assert privacy.redact("Listening at: http://10.0.0.5:5000, caller +52 55 1234 5678") == (
        "Listening at: http://10.0.0.5:5000, caller [number]"
    )
    assert privacy.redact("1.323.555.0123") == "[number]", "a number written with dots is not an IP address"


def test_gunicorn_start_up_lines_survive_and_its_tracebacks_are_redacted(tmp_path):
    """A real gunicorn (preloading an app that installs the redaction, as `create_app` does)."""
    import os
    import select
    import subprocess
    import sys
    import time

    (tmp_path / "redacted_app.py").write_text(
        "import logging\n"
        "from bot import privacy\n"
        "privacy.install_log_redaction()\n"
        "try:\n"
        "    raise RuntimeError('worker could not text +13235550123')\n"
        "except RuntimeError:\n"
        "    logging.getLogger('gunicorn.error').exception('preload check')\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'ok']\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--preload", "--workers", "1", "-b", "127.0.0.1:0", "redacted_app:app"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("Listening at" in line for line in seen):
            ready, _, _ = select.select([proc.stderr], [], [], 1.0)  # a bounded wait for the next line
            if ready:
                line = proc.stderr.readline()
                if not line:
                    break
                seen.append(line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stderr.close()
    text = "".join(seen)
    listening = [line for line in seen if "Listening at" in line]
    assert listening and "http://127.0.0.1:" in listening[0] and "[number]" not in listening[0], text
    assert "preload check" in text and "RuntimeError" in text and "3235550123" not in text, text
