"""Benchmark: what one caller's path through the voice line costs the web process.

A caller rings, picks Spanish and asks for a person: `POST /twilio/voice`,
`/language`, `/choice` (the `<Dial>` to two dispatchers on shift), then a
dispatcher's screening `/screen` and `/screened`. Each request goes through the
real Flask app, signed with RequestValidator, on the embedded Redis; the fake
Twilio stands in for the REST API (the voice webhook itself never calls it).

    python bench/voice.py --calls 200

Prints per step the median and 95th percentile time and the Redis commands it
ran (INFO's total_commands_processed delta, this process alone on the server).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402

from bot import coordinators, create_app, store  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.fake_twilio import FakeTwilioServer  # noqa: E402

TOKEN = "bench-auth-token"
PUBLIC_URL = "https://bench.hotline.test"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-voice-"))
    redis_server = store.start_embedded(tmp / "redis", appendonly=False)
    fake = FakeTwilioServer().start()
    settings = Settings(
        env="test",
        redis_url=redis_server.url,
        data_dir=str(tmp / "var"),
        twilio_account_sid="AC" + "c" * 32,
        twilio_auth_token=TOKEN,
        twilio_number="+13105550100",
        twilio_api_base=fake.url,
        public_url=PUBLIC_URL,
        secret="bench-secret",
        flows_dir=str(ROOT / "flows"),
        locales_dir=str(ROOT / "locales"),
    ).resolved()
    app = create_app(settings)
    client = app.test_client()
    r = store.connect(redis_server.url)
    r.flushdb()
    for name, phone in (("maria", "+13105550161"), ("luis", "+13105550162")):
        coordinators.add(r, name, "correct horse battery staple", "dispatcher", time.time())
        coordinators.set_phone(r, settings.secret, name, phone)
    validator = RequestValidator(TOKEN)
    timings: dict[str, list[float]] = defaultdict(list)
    commands: dict[str, list[int]] = defaultdict(list)

    def post(step: str, url: str, params: dict) -> ET.Element:
        path = url.removeprefix(PUBLIC_URL)
        headers = {"X-Twilio-Signature": validator.compute_signature(PUBLIC_URL + path, params)}
        before = int(r.info("stats")["total_commands_processed"])
        start = time.perf_counter()
        response = client.post(path, data=params, headers=headers)
        timings[step].append(time.perf_counter() - start)
        commands[step].append(int(r.info("stats")["total_commands_processed"]) - before - 1)  # minus INFO itself
        assert response.status_code == 200, response.get_data(as_text=True)
        return ET.fromstring(response.get_data(as_text=True))

    for n in range(args.calls):
        sid = "CA" + uuid.uuid4().hex
        form = {"CallSid": sid, "From": f"+1323555{n % 10000:04d}", "To": settings.twilio_number}
        menu = post("ring", "/twilio/voice", form)
        main_menu = post("language", menu.find("Gather").get("action"), {**form, "Digits": "2"})
        dial = post("choice: a person", main_menu.find("Gather").get("action"), {**form, "Digits": "1"})
        number = dial.find("Dial/Number")
        whisper = post("screen", number.get("url"), {**form, "CallSid": "CA" + uuid.uuid4().hex})
        post("screened", whisper.find("Gather").get("action"), {**form, "Digits": "1"})

    print(f"{args.calls} calls; median / p95 ms per request, Redis commands per request")
    for step, values in timings.items():
        p95 = sorted(values)[int(len(values) * 0.95) - 1]
        print(
            f"  {step:18} {statistics.median(values) * 1000:6.1f} / {p95 * 1000:6.1f} ms"
            f"   {statistics.median(commands[step]):4.0f} commands"
        )
    fake.stop()
    redis_server.stop()


if __name__ == "__main__":
    main()
