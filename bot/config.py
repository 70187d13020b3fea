"""Every environment variable the hotline reads: name, default, parser, doc.

`Settings.from_env()` is the only place `os.environ` is read (12-factor). Flask's
`Config.from_prefixed_env` is not enough on its own: we need typed, validated
values under the exact names docs/interfaces.md fixes, and one table (`VARIABLES`) that
the README must match (tests/test_docs.py checks it).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError


def _str(name: str, raw: str) -> str:
    return raw.strip()


def _opt_str(name: str, raw: str) -> str | None:
    return raw.strip() or None


def _hops(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= 5:
        raise ConfigError(f"{name} must be 0 (no proxy) to 5 reverse proxies, got {raw!r}")
    return value


def _pos_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _pos_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ConfigError(f"{name} must be a positive number, got {raw!r}")
    return value


def _csv(name: str, raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _region(name: str, raw: str) -> str:
    value = raw.strip().upper()
    if len(value) != 2 or not value.isalpha():
        raise ConfigError(f"{name} must be a two-letter region code like US, got {raw!r}")
    return value


def _timezone(name: str, raw: str) -> str:
    value = raw.strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} must be an IANA time zone like America/Los_Angeles, got {raw!r}") from None
    return value


def _env(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("development", "production", "test"):
        raise ConfigError(f"{name} must be development, production or test, got {raw!r}")
    return value


def _bool(name: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be yes or no, got {raw!r}")


def _retention(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("delete", "keep"):
        raise ConfigError(f"{name} must be delete or keep, got {raw!r}")
    return value


def _voice_say(name: str, raw: str) -> tuple[str, ...]:
    items = _csv(name, raw)
    for item in items:
        lang, _, spec = item.partition("=")
        code, _, voice = spec.partition(":")
        if not lang.strip() or not code.strip() or not voice.strip():
            raise ConfigError(f"{name} must be like en=en-US:Polly.Joanna,es=es-US:Polly.Lupe, got {raw!r}")
    return items


def _keyword_replies(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("auto", "hotline", "twilio"):
        raise ConfigError(f"{name} must be auto, hotline or twilio, got {raw!r}")
    return value


def _rate_limits(name: str, raw: str) -> str:
    from limits import parse_many  # Flask-Limiter's own notation: "10 per minute; 100 per hour"

    value = raw.strip()
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must be limits like '10 per minute; 100 per hour', got {raw!r}") from None
    return value


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, the Settings field, default, parser and doc."""

    name: str
    attr: str
    default: str
    parse: Callable[[str, str], Any]
    doc: str


VARIABLES: tuple[Variable, ...] = (
    Variable("HOTLINE_ENV", "env", "development", _env, "`production` refuses dev credentials and a generated secret"),
    Variable(
        "REDIS_URL",
        "redis_url",
        "",
        _opt_str,
        "Redis to use: `redis://host:6379/0`, or Sentinels `redis+sentinel://h1:26379,h2:26379/mymaster/0`; "
        "unset starts a private `redis-server` under `HOTLINE_DATA_DIR`",
    ),
    Variable(
        "HOTLINE_DATA_DIR", "data_dir", "./var", _str, "where the embedded Redis and local state (dev secret) live"
    ),
    Variable(
        "HOTLINE_SPOOL_DIR",
        "spool_dir",
        "",
        _str,
        "where messages received while Redis is down wait for replay; unset = `HOTLINE_DATA_DIR/spool`. "
        "With several web machines, a folder they all mount (with `flock`), or each machine replays its own",
    ),
    Variable(
        "TWILIO_ACCOUNT_SID",
        "twilio_account_sid",
        "",
        _opt_str,
        "Twilio account; dev/test value when unset and the API base is loopback",
    ),
    Variable(
        "TWILIO_AUTH_TOKEN", "twilio_auth_token", "", _opt_str, "Twilio auth token; also validates webhook signatures"
    ),
    Variable("TWILIO_NUMBER", "twilio_number", "", _opt_str, "the hotline's sending number (E.164)"),
    Variable(
        "TWILIO_MESSAGING_SERVICE_SID",
        "twilio_messaging_service_sid",
        "",
        _opt_str,
        "send through a Messaging Service instead of `TWILIO_NUMBER`",
    ),
    Variable(
        "TWILIO_API_BASE",
        "twilio_api_base",
        "https://api.twilio.com",
        _str,
        "base URL of Twilio's REST API (the fake in demo and tests)",
    ),
    Variable(
        "TWILIO_TIMEOUT_S",
        "twilio_timeout_s",
        "5",
        _pos_float,
        "HTTP timeout for every Twilio API call (the library's default has none)",
    ),
    Variable(
        "PUBLIC_URL",
        "public_url",
        "",
        _opt_str,
        "external base URL Twilio calls; signatures are checked against it + path",
    ),
    Variable(
        "HOTLINE_SECRET", "secret", "", _opt_str, "key for hashing/encrypting phone numbers; required in production"
    ),
    Variable("HOTLINE_COORDINATORS", "coordinators", "", _csv, "comma-separated E.164 numbers that get escalations"),
    Variable(
        "HOTLINE_HUMAN_NUMBER",
        "human_number",
        "",
        _str,
        "number shown to callers who want a person (know-your-rights, help)",
    ),
    Variable("HOTLINE_WAVE_SIZE", "wave_size", "3", _pos_int, "observers texted per dispatch wave"),
    Variable(
        "HOTLINE_WAVE_TIMEOUT_S",
        "wave_timeout_s",
        "120",
        _pos_int,
        "seconds before the next wave when too few accepted",
    ),
    Variable(
        "HOTLINE_OBSERVERS_NEEDED",
        "observers_needed",
        "2",
        _pos_int,
        "accepted observers that fill an incident (never work alone)",
    ),
    Variable(
        "HOTLINE_DEDUPE_WINDOW_MIN",
        "dedupe_window_min",
        "30",
        _pos_int,
        "minutes within which nearby reports merge into one incident",
    ),
    Variable(
        "HOTLINE_DEDUPE_RADIUS_M",
        "dedupe_radius_m",
        "400",
        _pos_int,
        "base radius in metres within which exact reports merge",
    ),
    Variable(
        "HOTLINE_CAP_CONTACT_10MIN",
        "cap_contact_10min",
        "3",
        _pos_int,
        "new incidents one number or web chat may open in 10 minutes before the next are held, not dispatched "
        "(docs/abuse.md)",
    ),
    Variable(
        "HOTLINE_CAP_CONTACT_HOUR",
        "cap_contact_hour",
        "6",
        _pos_int,
        "new incidents one number or web chat may open in an hour before the next are held, not dispatched",
    ),
    Variable(
        "HOTLINE_CAP_WEB_HOUR",
        "cap_web_hour",
        "40",
        _pos_int,
        "new incidents every web chat together may open in an hour before the next are held (a chat id costs "
        "nothing to mint)",
    ),
    Variable(
        "HOTLINE_CAP_CLIENT_10MIN",
        "cap_client_10min",
        "3",
        _pos_int,
        "new incidents the web chats of one client (address) may open in 10 minutes before the next are held (a "
        "browser mints a new chat by dropping its cookie)",
    ),
    Variable(
        "HOTLINE_CAP_CLIENT_HOUR",
        "cap_client_hour",
        "6",
        _pos_int,
        "new incidents the web chats of one client (address) may open in an hour before the next are held",
    ),
    Variable(
        "HOTLINE_DISPATCH_THREADS",
        "dispatch_threads",
        "8",
        _pos_int,
        "jobs one `worker.py` runs at once on the dispatch queues: a wave's texts wait on Twilio's API, so a "
        "burst of incidents is texted in parallel; a quarter of them serve only first-lane dispatch (docs/dispatch.md)",
    ),
    Variable(
        "HOTLINE_OBSERVER_MAX_OPEN",
        "observer_max_open",
        "2",
        _pos_int,
        "open dispatches an observer may hold at once before waves skip them (docs/dispatch.md)",
    ),
    Variable(
        "HOTLINE_OBSERVER_MAX_HOUR",
        "observer_max_hour",
        "4",
        _pos_int,
        "dispatch texts an observer may get in an hour before waves skip them",
    ),
    Variable(
        "HOTLINE_STATS_MIN_CELL",
        "stats_min_cell",
        "5",
        _pos_int,
        "in `hotline stats` breakdowns, counts below this (but above 0) are shown as `<N`",
    ),
    Variable(
        "HOTLINE_INCIDENT_TTL_MIN",
        "incident_ttl_min",
        "240",
        _pos_int,
        "minutes with nothing new after which an incident leaves the open set",
    ),
    Variable(
        "HOTLINE_RETENTION_DETAIL_H",
        "retention_detail_h",
        "24",
        _pos_int,
        "hours after closing that reporter ids, exact points, free text and timeline details are kept",
    ),
    Variable(
        "HOTLINE_RETENTION_DAYS",
        "retention_days",
        "30",
        _pos_int,
        "days after closing that the coarse incident record (area, kind, counts, timeline) is kept",
    ),
    Variable(
        "HOTLINE_DEFAULT_REGION", "default_region", "US", _region, "region for reading numbers written without `+`"
    ),
    Variable(
        "HOTLINE_SEND_RATE",
        "send_rate",
        "1",
        _pos_float,
        "broadcast SMS segments per second per sending number: 1 for a US long code, your number's "
        "rate for toll-free or a short code (docs/dispatch.md: Twilio's queue)",
    ),
    Variable(
        "HOTLINE_SMS_GSM7_LANGUAGES",
        "sms_gsm7_languages",
        "es",
        _csv,
        "languages whose SMS go GSM-7-safe (Spanish: á í ó ú lose the accent, é ñ ü ¿ ¡ stay); empty = as written",
    ),
    Variable(
        "HOTLINE_SMS_MAX_SEGMENTS",
        "sms_max_segments",
        "3",
        _pos_int,
        "`hotline flows check` fails on a text longer than this many SMS segments (as it would be sent)",
    ),
    Variable(
        "TWILIO_SMART_ENCODED",
        "twilio_smart_encoded",
        "yes",
        _bool,
        "ask Twilio's SmartEncoded to replace Unicode lookalikes (’ “ —) with GSM-7 twins on SMS",
    ),
    Variable(
        "HOTLINE_TWILIO_RETENTION",
        "twilio_retention",
        "delete",
        _retention,
        "`delete`: remove each message and its media from Twilio once processed/settled; `keep`: leave them",
    ),
    Variable(
        "HOTLINE_WHATSAPP_TEMPLATES",
        "whatsapp_templates",
        "",
        _str,
        "YAML file naming the approved WhatsApp template (ContentSid) per message kind and language, sent "
        "outside WhatsApp's 24-hour window (docs/dispatch.md: WhatsApp templates); empty = none",
    ),
    Variable(
        "HOTLINE_WHATSAPP_SMS_FALLBACK",
        "whatsapp_sms_fallback",
        "no",
        _bool,
        "outside WhatsApp's 24-hour window with no template: `yes` texts the same number by SMS, `no` does not send",
    ),
    Variable(
        "HOTLINE_KEEP_PHOTOS",
        "keep_photos",
        "no",
        _bool,
        "`yes`: fetch each report photo from Twilio and keep it encrypted with its incident (docs/privacy.md); "
        "`no`: photos are deleted at Twilio with their message and never stored",
    ),
    Variable(
        "HOTLINE_PHOTO_MAX_BYTES",
        "photo_max_bytes",
        "5242880",
        _pos_int,
        "largest photo kept (bytes; Twilio's own MMS/WhatsApp media limit is 5 MB)",
    ),
    Variable(
        "HOTLINE_KEYWORD_REPLIES",
        "keyword_replies",
        "auto",
        _keyword_replies,
        "who answers STOP/START/HELP: `auto` (Twilio when it tags the message with OptOutType, else the hotline), "
        "`hotline`, or `twilio` (Twilio's default opt-out answers them on this number)",
    ),
    Variable(
        "HOTLINE_VOICE_SAY",
        "voice_say",
        "en=en-US:Polly.Joanna,es=es-US:Polly.Lupe",
        _voice_say,
        "what callers hear per language on `/twilio/voice`: `lang=<Say> language:<Say> voice`, comma-separated "
        "([docs/voice.md](docs/voice.md))",
    ),
    Variable(
        "HOTLINE_VOICE_RING_S",
        "voice_ring_s",
        "20",
        _pos_int,
        "seconds the dispatchers' phones ring for a caller who chose to talk to a person; then the caller is texted",
    ),
    Variable(
        "HOTLINE_VOICE_SPEECH",
        "voice_speech",
        "no",
        _bool,
        "callers may also say their menu choice (Twilio speech recognition, billed per use); digits always work",
    ),
    Variable(
        "HOTLINE_SESSION_TTL_S",
        "session_ttl_s",
        "7200",
        _pos_int,
        "idle seconds after which a conversation is forgotten",
    ),
    Variable("HOTLINE_FLOWS_DIR", "flows_dir", "flows", _str, "folder of flow YAML files"),
    Variable("HOTLINE_LOCALES_DIR", "locales_dir", "locales", _str, "folder of gettext catalogs"),
    Variable(
        "HOTLINE_LANGUAGES",
        "languages",
        "en,es",
        _csv,
        "languages offered; each needs a catalog (English is the source)",
    ),
    Variable(
        "HOTLINE_GEO_BOUNDS",
        "geo_bounds",
        "33.2,-119.0,34.9,-116.9",
        _str,
        "south,west,north,east box that place names are resolved inside",
    ),
    Variable(
        "HOTLINE_MAP_TILES",
        "map_tiles",
        "",
        _str,
        "tile URL template of the network's own tile server for the console map "
        "(`https://tiles.example/{z}/{x}/{y}.png`); empty = the map draws only data the hotline ships "
        "(no tile server learns where incidents are)",
    ),
    Variable(
        "HOTLINE_CHAT_NEW_LIMIT",
        "chat_new_limit",
        "10 per minute; 100 per hour",
        _rate_limits,
        "new web chats one client (address) may start; reloading a page that has a chat does not count",
    ),
    Variable(
        "HOTLINE_CHAT_MESSAGE_LIMIT",
        "chat_message_limit",
        "15 per minute; 200 per hour",
        _rate_limits,
        "messages one web chat may post",
    ),
    Variable(
        "HOTLINE_CHAT_CLIENT_LIMIT",
        "chat_client_limit",
        "60 per minute; 600 per hour",
        _rate_limits,
        "web chat messages one client (address) may post over all its chats; beyond any chat limit → 429",
    ),
    Variable(
        "HOTLINE_PROXY_HOPS",
        "proxy_hops",
        "0",
        _hops,
        "reverse proxies in front of the app that each add the client to `X-Forwarded-For`; the client address "
        "(rate limits, the web's per-client cap) is read from there. 0 = the connecting address; a header the "
        "proxies did not add is ignored",
    ),
    Variable(
        "HOTLINE_GEOCODER",
        "geocoder",
        "",
        _str,
        "online geocoder for places nothing offline could place: `nominatim` or `nominatim=https://host`; "
        "empty = off (a reporter's words stay in the network)",
    ),
    Variable(
        "HOTLINE_HEALTH_TOKEN",
        "health_token",
        "",
        _opt_str,
        "operators who send it (`X-Health-Token` header or `?token=`) get /healthz details; others get status only",
    ),
    Variable(
        "HOTLINE_TIMEZONE",
        "timezone",
        "America/Los_Angeles",
        _timezone,
        "the network's time zone (IANA name): times on the console and in texts",
    ),
)
"""The single table of configuration; README's configuration section mirrors it."""

_DEV_SID = "AC" + "0" * 32
_DEV_TOKEN = "dev-auth-token"


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


@dataclass(frozen=True)
class Settings:
    """Validated configuration of one hotline process."""

    env: str = "development"
    redis_url: str | None = None
    data_dir: str = "./var"
    spool_dir: str = ""
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    twilio_timeout_s: float = 5.0
    public_url: str | None = None
    secret: str | None = field(default=None, repr=False)
    coordinators: tuple[str, ...] = ()
    human_number: str = ""
    wave_size: int = 3
    wave_timeout_s: int = 120
    observers_needed: int = 2
    dedupe_window_min: int = 30
    dedupe_radius_m: int = 400
    cap_contact_10min: int = 3
    cap_contact_hour: int = 6
    cap_web_hour: int = 40
    cap_client_10min: int = 3
    cap_client_hour: int = 6
    dispatch_threads: int = 8
    observer_max_open: int = 2
    observer_max_hour: int = 4
    stats_min_cell: int = 5
    incident_ttl_min: int = 240
    retention_detail_h: int = 24
    retention_days: int = 30
    default_region: str = "US"
    send_rate: float = 1.0
    sms_gsm7_languages: tuple[str, ...] = ("es",)
    sms_max_segments: int = 3
    twilio_smart_encoded: bool = True
    twilio_retention: str = "delete"
    keyword_replies: str = "auto"
    whatsapp_templates: str = ""
    whatsapp_sms_fallback: bool = False
    keep_photos: bool = False
    photo_max_bytes: int = 5242880
    voice_say: tuple[str, ...] = ("en=en-US:Polly.Joanna", "es=es-US:Polly.Lupe")
    voice_ring_s: int = 20
    voice_speech: bool = False
    session_ttl_s: int = 7200
    flows_dir: str = "flows"
    locales_dir: str = "locales"
    languages: tuple[str, ...] = ("en", "es")
    geo_bounds: str = "33.2,-119.0,34.9,-116.9"
    map_tiles: str = ""
    chat_new_limit: str = "10 per minute; 100 per hour"
    chat_message_limit: str = "15 per minute; 200 per hour"
    chat_client_limit: str = "60 per minute; 600 per hour"
    proxy_hops: int = 0
    geocoder: str = ""
    health_token: str | None = field(default=None, repr=False)
    timezone: str = "America/Los_Angeles"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build validated Settings from the environment (or a given mapping)."""
        environ = os.environ if environ is None else environ
        values = {}
        for var in VARIABLES:
            values[var.attr] = var.parse(var.name, environ.get(var.name, var.default))
        return cls(**values).resolved()

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some fields changed (tests, bench)."""
        return dataclasses.replace(self, **changes)

    def resolved(self) -> Settings:
        """Fill dev defaults and refuse unsafe production settings."""
        changes: dict[str, Any] = {}
        loopback = _is_loopback(self.twilio_api_base)
        if not self.twilio_account_sid or not self.twilio_auth_token:
            if self.env == "production":
                raise ConfigError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required in production")
            if loopback:
                changes["twilio_account_sid"] = self.twilio_account_sid or _DEV_SID
                changes["twilio_auth_token"] = self.twilio_auth_token or _DEV_TOKEN
            # else: a laptop with no credentials can still check flows, chat and import a
            # roster; sending raises ConfigError and every webhook is refused (403).
        if not self.twilio_number and not self.twilio_messaging_service_sid:
            if self.env == "production":
                raise ConfigError("TWILIO_NUMBER or TWILIO_MESSAGING_SERVICE_SID is required")
            changes["twilio_number"] = "+15005550006"  # Twilio's documented magic test number
        if not self.secret:
            if self.env == "production":
                raise ConfigError("HOTLINE_SECRET is required in production")
            changes["secret"] = _dev_secret(Path(self.data_dir))
        if self.map_tiles and not (
            self.map_tiles.startswith(("https://", "http://127.0.0.1", "http://localhost"))
            and all(f"{{{p}}}" in self.map_tiles for p in "zxy")
        ):
            raise ConfigError(
                f"HOTLINE_MAP_TILES must be an https URL with {{z}}, {{x}} and {{y}}, got {self.map_tiles!r}"
            )
        if self.geocoder and not self.geocoder.split("=", 1)[0] == "nominatim":
            raise ConfigError(f"HOTLINE_GEOCODER must be empty, nominatim or nominatim=URL, got {self.geocoder!r}")
        if "en" not in self.languages:
            raise ConfigError(
                f"HOTLINE_LANGUAGES must include en (the source language), got {','.join(self.languages)!r}"
            )
        try:
            south, west, north, east = (float(x) for x in self.geo_bounds.split(","))
        except ValueError:
            raise ConfigError(f"HOTLINE_GEO_BOUNDS must be south,west,north,east, got {self.geo_bounds!r}") from None
        if not (south < north and west < east):
            raise ConfigError(f"HOTLINE_GEO_BOUNDS must have south<north and west<east, got {self.geo_bounds!r}")
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """The geo box as (south, west, north, east)."""
        south, west, north, east = (float(x) for x in self.geo_bounds.split(","))
        return south, west, north, east


def _dev_secret(data_dir: Path) -> str:
    """Read or create a per-machine dev secret, so no shared dev secret exists."""
    path = data_dir / "dev-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value
