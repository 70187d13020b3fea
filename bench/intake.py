"""Benchmark: how many texts a reporter sends before the first observer is texted, and how long it takes.

A corpus of realistic first texts (English, Spanish, Spanglish, typos, no
accents, map links, WhatsApp pins) is each driven to dispatch by a scripted
reporter that answers whatever the hotline asks (it reads the step the
conversation waits at, as a person reads the question). Every text goes
through the real Flask app's signed Twilio webhook in this process; after each
text a burst RQ `SimpleWorker` runs the queued jobs; the fake Twilio runs on a
loopback port and the real `twilio` client talks to it. Redis is the embedded
server, flushed between conversations (each starts on an empty hotline with
the demo roster).

    python bench/intake.py              # the whole corpus once
    python bench/intake.py --think-s 30 # also estimate wall time with 30 s per reporter text

Prints texts-before-dispatch (median, max, by kind) and seconds from the first
text to the first dispatch text the fake Twilio accepted (measured in process,
so the reporter's typing time is not in it: see --think-s).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loadgen import SignedPoster  # noqa: E402  (bench/ is on the path: scripts run from it)
from rq import SimpleWorker  # noqa: E402

from bot import create_app, geo, observers, privacy, runtime, store  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.conversation import sessions  # noqa: E402
from bot.fake_twilio import FakeTwilioServer  # noqa: E402

TOKEN = "bench-auth-token"
ACCOUNT_SID = "AC" + "c" * 32
PUBLIC_URL = "https://bench.hotline.test"
HOTLINE = "+13105550100"
MAX_TEXTS = 15
"""A conversation that has not dispatched after this many reporter texts counts as a miss."""

PIN = (33.9755, -118.2250)  # Florence & Pacific, Huntington Park

# (kind, language, first text, extra webhook fields, facts the reporter answers with)
# Facts: activity (a menu answer), where, when, count, who, detained; the language picks the defaults.
CORPUS: list[tuple[str, str, str, dict, dict]] = [
    # place + activity in the first text
    ("place+activity", "en", "ICE detaining 2 guys at Pacific and Florence right now", {}, {}),
    ("place+activity", "en", "ICE at 90011 now", {}, {}),
    ("place+activity", "en", "raid at the home depot on slauson", {}, {}),
    ("place+activity", "en", "3 unmarked SUVs with ICE agents at Pacific & Florence", {}, {}),
    ("place+activity", "en", "immigration agents arresting a man in handcuffs at florence and pacific", {}, {}),
    ("place+activity", "en", "checkpoint on Atlantic and Florence now", {}, {}),
    ("place+activity", "en", "ICE raid at Gage and Pacific, 5 agents with masks, no plates", {}, {}),
    ("place+activity", "en", "two vans of border patrol at 90255 right now", {}, {}),
    ("place+activity", "es", "la migra esta en pacific y florence ahorita, se llevaron a un señor", {}, {}),
    ("place+activity", "es", "migra en el home depot de slauson", {}, {}),
    ("place+activity", "es", "hay una redada en Pacific y Florence ahora", {}, {}),
    ("place+activity", "es", "redada en 90255, como 5 agentes con mascaras", {}, {}),
    ("place+activity", "es", "retén en Atlantic y Florence", {}, {}),
    ("place+activity", "es", "agentes de ICE deteniendo gente en pacific y gage", {}, {}),
    ("place+activity", "es", "hay migra en Pacific y Florence, dos camionetas sin placas", {}, {}),
    ("place+activity", "es", "estan arrestando a alguien en florence y pacific", {}, {}),
    ("place+activity", "spanglish", "ICE en el home depot de slauson right now", {}, {}),
    ("place+activity", "spanglish", "la migra at pacific and florence, like 4 trocas", {}, {}),
    ("place+activity", "spanglish", "raid en 90011 ahorita", {}, {}),
    ("place+activity", "typos", "ise raid at pasific and florense", {}, {}),
    ("place+activity", "typos", "migra n pacific y florence", {}, {}),
    ("place+activity", "no-accents", "reten en atlantic y florence ahorita", {}, {}),
    ("place+activity", "no-accents", "estan deteniendo a un senor en pacific y florence", {}, {}),
    ("link", "en", "ICE here https://maps.google.com/?q=33.97550,-118.22500", {}, {}),
    ("link", "es", "migra aqui https://www.google.com/maps/@33.9755,-118.2250,17z", {}, {}),
    ("pin", "en", "ICE here", {"Latitude": PIN[0], "Longitude": PIN[1]}, {}),
    ("pin", "es", "migra aqui", {"Latitude": PIN[0], "Longitude": PIN[1]}, {}),
    ("city", "en", "ICE raid in South Gate", {}, {}),
    ("city", "es", "redada en Huntington Park ahorita", {}, {}),
    # activity first, place second
    ("activity-only", "en", "ICE agents outside my building", {}, {"where": "Pacific and Florence"}),
    ("activity-only", "en", "there's a raid happening", {}, {"where": "90011"}),
    ("activity-only", "en", "they're arresting my neighbor", {}, {"where": "Florence and Pacific"}),
    ("activity-only", "es", "esta la migra aqui", {}, {"where": "Pacific y Florence"}),
    ("activity-only", "es", "se llevaron a un señor", {}, {"where": "pacific y gage"}),
    ("activity-only", "es", "hay un reten", {}, {"where": "Atlantic y Florence"}),
    ("activity-only", "spanglish", "la migra is here ahorita", {}, {"where": "90255"}),
    ("activity-only", "typos", "migraa", {}, {"where": "pacific y florence"}),
    ("activity-only", "pin-second", "ICE", {}, {"where_pin": PIN}),
    ("activity-only", "pin-second", "migra", {}, {"where_pin": PIN}),
    # nothing useful in the first text
    ("bare", "en", "hello", {}, {"activity": "1", "where": "Pacific and Florence"}),
    ("bare", "en", "help me", {}, {"activity": "2", "where": "90011"}),
    ("bare", "en", "report", {}, {"activity": "4", "where": "Florence and Pacific"}),
    ("bare", "es", "hola", {}, {"activity": "4", "where": "Pacific y Florence"}),
    ("bare", "es", "buenas", {}, {"activity": "1", "where": "90255"}),
    ("bare", "es", "ayudenme por favor", {}, {"activity": "2", "where": "pacific y gage"}),
    ("bare", "spanglish", "hi, necesito reportar algo", {}, {"activity": "3", "where": "Atlantic y Florence"}),
]
"""At least 40 first texts; "where" facts answer the place question when the first text has none."""

DEFAULTS = {
    "en": {
        "activity": "4",
        "where": "Pacific and Florence",
        "when": "now",
        "count": "4 agents 2 cars",
        "who": "1 6",
        "detained": "not sure",
        "cross": "Pacific and Florence",
        "safe": "1",
        "other": "no",
    },
    "es": {
        "activity": "4",
        "where": "Pacific y Florence",
        "when": "ahorita",
        "count": "como 5",
        "who": "mascaras",
        "detained": "no se",
        "cross": "Pacific y Florence",
        "safe": "1",
        "other": "no",
    },
}

STEP_FACT = {
    "what": "activity",
    "where": "where",
    "when": "when",
    "count": "count",
    "who": "who",
    "detained": "detained",
    "cross_streets": "cross",
    "sent": "safe",
}
"""Which fact answers which step of flows/sighting.yaml (an unknown step gets its expect kind's default)."""

KIND_FACT = {
    "location": "where",
    "datetime": "when",
    "number": "count",
    "yes_no": "detained",
    "choice": "activity",
}


class BurstWorker(SimpleWorker):
    """RQ's SimpleWorker without the command pub/sub channel.

    A burst worker's teardown joins its pub/sub thread, which waits up to a
    second; run once per reporter text that second would be counted as dispatch
    latency. Nothing sends this short-lived worker commands.
    """

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


class Reporter:
    """Text the hotline through the signed webhook like Twilio would, and run queued jobs after each text."""

    def __init__(self, app, rt, settings, twilio: FakeTwilioServer):
        self.client = app.test_client()
        self.rt, self.settings, self.twilio = rt, settings, twilio
        self.poster = SignedPoster(self.client, TOKEN, PUBLIC_URL, ACCOUNT_SID, HOTLINE)

    def send(self, e164: str, body: str, extra: dict) -> None:
        response = self.poster.text(e164, body, **extra)
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}")
        BurstWorker([self.rt.queue(n) for n in runtime.QUEUE_NAMES], connection=self.rt.r_raw).work(burst=True)

    def dispatch_at(self, observer_numbers: set[str]) -> float | None:
        for message in self.twilio.messages():
            if message["to"] in observer_numbers:
                return float(message["received_at"])
        return None

    def answer_for(self, e164: str, lang: str, facts: dict) -> tuple[str, dict]:
        """What the scripted reporter replies to the question the conversation waits at."""
        from bot.conversation import registry

        session = sessions.load(self.rt.r, privacy.contact_id(self.settings.secret, e164))
        if session is None or not session.active:
            return DEFAULTS[lang]["activity"], {}
        step_id = session.step
        fact = STEP_FACT.get(step_id)
        if fact is None:
            flow = registry.for_folder(self.settings.flows_dir).get(session.flow, session.version)
            step = flow.steps.get(step_id) if flow else None
            kind = step.expect.kind if step is not None and step.expect is not None else ""
            fact = KIND_FACT.get(kind, "other")
        if fact == "where" and "where_pin" in facts:
            lat, lon = facts["where_pin"]
            return "", {"Latitude": lat, "Longitude": lon}
        return str(facts.get(fact, DEFAULTS[lang][fact])), {}


def run(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = store.start_embedded(tmp, appendonly=False)
        twilio = FakeTwilioServer().start()
        try:
            settings = Settings(
                env="test",
                redis_url=server.url,
                data_dir=tmp,
                twilio_account_sid=ACCOUNT_SID,
                twilio_auth_token=TOKEN,
                twilio_number=HOTLINE,
                twilio_api_base=twilio.url,
                public_url=PUBLIC_URL,
                secret="bench",
                coordinators=("+13105550199",),
                human_number="+13105550111",
                flows_dir=str(ROOT / "flows"),
                locales_dir=str(ROOT / "locales"),
            ).resolved()
            app = create_app(settings)
            rt = app.extensions["hotline"]
            for name in ("rq.worker", "werkzeug", "bot"):
                logging.getLogger(name).setLevel(logging.ERROR)
            geo.warm(settings.bounds, ROOT / "flows" / "places.yaml")  # a process's first place lookup loads the data
            reporter = Reporter(app, rt, settings, twilio)
            results = [_one(reporter, rt, settings, twilio, n, entry) for n, entry in enumerate(CORPUS)]
        finally:
            twilio.stop()
            server.stop()
    _print(results, args.think_s, args.verbose)


def _one(reporter: Reporter, rt, settings, twilio, n: int, entry) -> dict:
    kind, lang_tag, first, extra, facts = entry
    lang = "es" if lang_tag in ("es", "spanglish", "no-accents") or _looks_spanish(first) else "en"
    rt.r.flushdb()
    twilio.clear()
    result = observers.import_csv(rt.r, settings, ROOT / "bot" / "data" / "demo_observers.csv", time.time())
    numbers = {o for o in _observer_numbers(rt, settings, result)}
    e164 = f"+1323777{n:04d}"
    if "Latitude" in extra:
        e164 = "whatsapp:" + e164
    started = time.time()
    reporter.send(e164, first, extra)
    texts = 1
    while reporter.dispatch_at(numbers) is None and texts < MAX_TEXTS:
        body, pin = reporter.answer_for(e164, lang, facts)
        reporter.send(e164, body, pin)
        texts += 1
    at = reporter.dispatch_at(numbers)
    return {
        "kind": kind,
        "lang": lang_tag,
        "first": first,
        "texts": texts if at is not None else None,
        "seconds": (at - started) if at is not None else None,
    }


def _looks_spanish(text: str) -> bool:
    from bot import i18n

    return i18n.detect_language(text, "en") == "es"


def _observer_numbers(rt, settings, result) -> list[str]:
    found = []
    for key in rt.r.scan_iter(store.observer_key("*")):
        observer = rt.r.hgetall(key)
        e164 = observers.number_of(settings, observer) if observer else None
        if e164:
            found.append(e164)
    return found


def _print(results: list[dict], think_s: float, verbose: bool) -> None:
    done = [r for r in results if r["texts"] is not None]
    missed = [r for r in results if r["texts"] is None]
    print(
        f"first texts: {len(results)}, dispatched: {len(done)}, "
        f"never dispatched within {MAX_TEXTS} texts: {len(missed)}"
    )
    if done:
        texts = [r["texts"] for r in done]
        secs = sorted(r["seconds"] for r in done)
        print(
            f"texts before dispatch: median {statistics.median(texts):g}, max {max(texts)}, "
            f"mean {statistics.mean(texts):.2f}"
        )
        print(
            f"seconds first text -> first dispatch accepted by fake Twilio: median {statistics.median(secs):.3f}, "
            f"max {max(secs):.3f} (in process, no reporter typing time)"
        )
        if think_s:
            est = [r["seconds"] + (r["texts"] - 1) * think_s for r in done]
            print(
                f"with {think_s:g} s per reporter text after the first: "
                f"median {statistics.median(est):.0f} s, max {max(est):.0f} s"
            )
    by_kind: dict[str, list[int]] = defaultdict(list)
    for r in done:
        by_kind[r["kind"]].append(r["texts"])
    for kind in sorted(by_kind):
        values = by_kind[kind]
        print(f"  {kind:15s} n={len(values):2d}  median {statistics.median(values):g}  max {max(values)}")
    if verbose or missed:
        for r in results:
            if verbose or r["texts"] is None:
                secs = f"{r['seconds']:.3f}" if r["seconds"] is not None else "-"
                print(f"    {r['texts']!s:>4} {secs:>7} s  {r['kind']:15s} {r['lang']:10s} {r['first']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--think-s", type=float, default=30.0, help="seconds a reporter takes per later text (estimate)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every conversation's count")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run(args)


if __name__ == "__main__":
    main()
