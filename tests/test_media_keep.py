"""Photos a network keeps (HOTLINE_KEEP_PHOTOS): fetched with the account's credentials, sealed, kept with
the incident, deleted at Twilio; shown to coordinators (audited); gone when retention thins the incident.

The fake Twilio serves media like Twilio: at the Media URI without `.json`,
behind HTTP Basic auth (401 without), with its content type.
"""

from __future__ import annotations

import time

import pytest
import requests
from test_browser_chat import browser, playwright_api  # noqa: F401  (the shared browser fixtures)
from test_browser_console import console, served  # noqa: F401

from bot import audit, incidents, photos, privacy, reports, retention, runtime, store, twilio_retention
from bot.channels import twilio as twilio_channel
from bot.conversation import ActionCall
from bot.errors import MediaRefused

PHOTO = b"\xff\xd8\xff\xe0" + b"JPEG-PHOTO-OF-AGENTS-" * 20
SCENE = {"lat": 33.9795, "lon": -118.2200, "precision_m": 30, "label": "2901 E Florence Ave", "precision": "address"}


def report(rt, urls, answers=None) -> dict:
    call = ActionCall(
        name="report.submit",
        contact_id=privacy.contact_id(rt.settings.secret, "+13235550123"),
        e164="+13235550123",
        answers={"activity": "raid", "where": SCENE, "media": list(urls), **(answers or {})},
        language="en",
        channel="sms",
        now=time.time(),
    )
    return reports.submit(rt, call)


@pytest.fixture
def keeping(rt):
    rt.settings = rt.settings.replace(keep_photos=True)
    return rt


def seed(twilio_outbox, rt, *media):
    return twilio_outbox.add_inbound(rt.settings.twilio_account_sid, media=list(media))


def test_the_fake_serves_media_only_with_the_accounts_credentials(rt, twilio_outbox):
    [url] = seed(twilio_outbox, rt, ("image/jpeg", PHOTO))["media_urls"]
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, auth=(rt.settings.twilio_account_sid, "wrong"), timeout=5).status_code == 200, (
        "any password until the fake is told the token"
    )
    twilio_outbox.set_auth_token(rt.settings.twilio_auth_token)
    assert requests.get(url, auth=(rt.settings.twilio_account_sid, "wrong"), timeout=5).status_code == 401
    data, content_type = twilio_channel.fetch_media(rt.settings, url, 10_000)
    assert (data, content_type) == (PHOTO, "image/jpeg")


def test_a_kept_photo_is_sealed_with_its_content_type_and_deleted_at_twilio(keeping, worker, twilio_outbox):
    rt = keeping
    twilio_outbox.set_auth_token(rt.settings.twilio_auth_token)
    seeded = seed(twilio_outbox, rt, ("image/png", PHOTO))
    incident_id = report(rt, seeded["media_urls"])["incident_id"]
    worker()
    [kept] = photos.listed(rt.r, incident_id)
    assert (kept["content_type"], kept["bytes"]) == ("image/png", len(PHOTO))
    raw = rt.r.hgetall(store.incident_photos_key(incident_id))
    assert "JPEG-PHOTO" not in str(raw), "sealed at rest, never the photo in clear"
    assert privacy.unseal_bytes(rt.settings.secret, raw[kept["id"]].encode()) == PHOTO
    assert any(sid.startswith("ME") for sid in twilio_outbox.deleted()), "Twilio's copy goes once ours is kept"


def test_an_updated_report_keeps_its_photo_once(keeping, worker, twilio_outbox):
    rt = keeping
    seeded = seed(twilio_outbox, rt, ("image/jpeg", PHOTO))
    first = report(rt, seeded["media_urls"])
    worker()
    call = ActionCall(
        name="report.update",
        contact_id=privacy.contact_id(rt.settings.secret, "+13235550123"),
        e164="+13235550123",
        answers={"report": first, "media": seeded["media_urls"], "agents": 3},
        language="en",
        channel="sms",
        now=time.time(),
    )
    reports.update(rt, call)
    worker()
    assert len(photos.listed(rt.r, first["incident_id"])) == 1


def test_a_photo_message_waits_at_twilio_until_its_photo_is_kept_then_goes(keeping, phone, worker, twilio_outbox):
    """The keep job retries a failed fetch for minutes (KEEP_RETRY) while the message, and its media with it,
    was deleted two minutes after it came in: a fetch retried past that found nothing."""
    rt = keeping
    twilio_outbox.set_auth_token(rt.settings.twilio_auth_token)
    seeded = seed(twilio_outbox, rt, ("image/jpeg", PHOTO))
    form = phone.form("", "+13235550123", NumMedia=1, MediaUrl0=seeded["media_urls"][0], MediaContentType0="image/jpeg")
    form["MessageSid"] = seeded["sid"]
    phone.post(form)
    plain = phone.form("hello", "+13235550124")
    phone.post(plain)
    now = time.time()
    due = lambda sid: rt.r.zscore(store.twilio_deletions_key(), sid)  # noqa: E731
    assert due(plain["MessageSid"]) < now + twilio_retention.DELETE_AFTER_S + 5, "a text without photos: minutes"
    assert due(seeded["sid"]) > now + rt.settings.session_ttl_s, "the photo's message waits for its report"
    assert twilio_retention.hand_over(rt, now + twilio_retention.DELETE_AFTER_S + photos.KEEP_HORIZON_S) == 1
    assert twilio_outbox.inbound_left() == [seeded["sid"]], "still there for a keep job's last retry"
    report(rt, seeded["media_urls"])
    worker()  # keeps the photo, deletes the media, and lets the message go sooner
    assert due(seeded["sid"]) < time.time() + twilio_retention.DELETE_AFTER_S + 1
    assert twilio_retention.hand_over(rt, time.time() + twilio_retention.DELETE_AFTER_S + 1) == 1
    worker()
    assert twilio_outbox.inbound_left() == []


def test_the_photo_wait_outlasts_every_retry_of_the_keep_job():
    assert twilio_retention.PHOTO_MARGIN_S > photos.KEEP_HORIZON_S


def test_without_keeping_photos_a_photo_message_goes_in_minutes(rt, phone, twilio_outbox):
    seeded = seed(twilio_outbox, rt, ("image/jpeg", PHOTO))
    form = phone.form("", "+13235550123", NumMedia=1, MediaUrl0=seeded["media_urls"][0], MediaContentType0="image/jpeg")
    form["MessageSid"] = seeded["sid"]
    phone.post(form)
    assert rt.r.zscore(store.twilio_deletions_key(), seeded["sid"]) < time.time() + twilio_retention.DELETE_AFTER_S + 1


@pytest.mark.parametrize(
    "content_type,body,why",
    [("application/pdf", b"%PDF-1.4", "not an image"), ("image/jpeg", b"x" * 5000, "larger than")],
)
def test_a_non_image_or_an_oversized_photo_is_refused_and_not_kept(
    keeping, worker, twilio_outbox, content_type, body, why
):
    rt = keeping
    rt.settings = rt.settings.replace(photo_max_bytes=4096)
    seeded = seed(twilio_outbox, rt, (content_type, body))
    with pytest.raises(MediaRefused, match=why):
        twilio_channel.fetch_media(rt.settings, seeded["media_urls"][0], rt.settings.photo_max_bytes)
    incident_id = report(rt, seeded["media_urls"])["incident_id"]
    worker()
    assert photos.listed(rt.r, incident_id) == []
    assert any(sid.startswith("ME") for sid in twilio_outbox.deleted()), "refused here, and not left at Twilio"


def test_credentials_never_go_to_a_url_that_is_not_twilios(rt):
    for url in ("https://evil.example/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "https://api.twilio.com.evil/x"):
        with pytest.raises(MediaRefused, match="not a Twilio media URL"):
            twilio_channel.fetch_media(rt.settings, url, 1000)


def test_photos_are_not_kept_by_default(rt, worker, twilio_outbox):
    seeded = seed(twilio_outbox, rt, ("image/jpeg", PHOTO))
    incident_id = report(rt, seeded["media_urls"])["incident_id"]
    worker()
    assert photos.listed(rt.r, incident_id) == []
    assert not rt.r.exists(store.incident_photos_key(incident_id))


def test_a_coordinator_views_a_kept_photo_on_the_incident_page_and_it_is_audited(
    keeping, worker, twilio_outbox, coordinator, client
):
    rt = keeping
    seeded = seed(twilio_outbox, rt, ("image/jpeg", PHOTO))
    incident_id = report(rt, seeded["media_urls"])["incident_id"]
    worker()
    [kept] = photos.listed(rt.r, incident_id)
    path = f"/dashboard/incidents/{incident_id}/photos/{kept['id']}"
    assert client.get(path).status_code == 302, "not logged in: to the login page"
    maria = coordinator("maria")
    page = maria.get(f"/dashboard/incidents/{incident_id}").get_data(as_text=True)
    assert path in page and "Photo 1" in page
    assert not [e for e in audit.entries(rt.r) if e["action"] == "photo_viewed"], "listing it is not viewing it"
    shown = maria.get(path)
    assert shown.status_code == 200 and shown.data == PHOTO and shown.mimetype == "image/jpeg"
    assert shown.headers["Cache-Control"] == "no-store"
    [entry] = [e for e in audit.entries(rt.r) if e["action"] == "photo_viewed"]
    assert (entry["by"], entry["incident"], entry["photo"]) == ("maria", incident_id, kept["id"])
    assert maria.get(f"/dashboard/incidents/{incident_id}/photos/{'0' * 16}").status_code == 404
    assert maria.get(f"/dashboard/incidents/{incident_id}/photos/../x").status_code == 404


def test_kept_photos_go_when_retention_thins_the_closed_incident(keeping, worker, twilio_outbox):
    rt = keeping
    seeded = seed(twilio_outbox, rt, ("image/jpeg", PHOTO))
    incident_id = report(rt, seeded["media_urls"])["incident_id"]
    worker()
    assert photos.listed(rt.r, incident_id)
    now = time.time()
    incidents.set_status(rt.r, incident_id, "closed", now, reason="test", settings=rt.settings)
    retention.purge(rt, now + 3600)
    assert photos.listed(rt.r, incident_id), "kept while the incident's details are"
    retention.purge(rt, now + rt.settings.retention_detail_h * 3600 + 60)
    assert not rt.r.exists(store.incident_photos_key(incident_id))
    assert not rt.r.exists(store.incident_photo_order_key(incident_id))


@pytest.mark.browser
def test_a_coordinator_opens_a_kept_photo_from_the_consoles_incident_in_chromium(console, served, r, twilio_outbox):  # noqa: F811
    """The console's incident dialog (Playwright, real Chromium) links the photo; opening it is audited."""
    from test_browser_console import NAME, open_incident

    reporter = privacy.contact_id("test-secret", "+13235550123")
    merge = incidents.merge_report(
        r,
        incidents.Report(
            reporter, SCENE["lat"], SCENE["lon"], 30, "raid", {"label": "2901 E Florence Ave"}, "en", "sms"
        ),
        runtime.get().settings,
        time.time(),
    )
    seeded = twilio_outbox.add_inbound(runtime.get().settings.twilio_account_sid, media=[("image/png", PHOTO)])
    assert photos.keep(merge.incident_id, seeded["media_urls"]) == 1  # the job, run as the worker would
    page = console()
    open_incident(page, merge.ref)
    link = page.locator("dialog a.photo")
    link.wait_for()
    assert not [e for e in audit.entries(r) if e["action"] == "photo_viewed"], "shown as a link, not loaded"
    with page.expect_popup() as opened:
        link.click()
    popup = opened.value
    popup.wait_for_load_state()
    [entry] = [e for e in audit.entries(r) if e["action"] == "photo_viewed"]
    assert (entry["by"], entry["incident"]) == (NAME, merge.incident_id)
