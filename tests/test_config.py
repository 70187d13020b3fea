"""Settings come only from `Settings.from_env`, validated before anything is served."""

from __future__ import annotations

import pytest

from bot.config import VARIABLES, Settings
from bot.errors import ConfigError

LOOPBACK = {"TWILIO_API_BASE": "http://127.0.0.1:9"}


def test_defaults_match_contract(tmp_path):
    s = Settings.from_env({**LOOPBACK, "HOTLINE_DATA_DIR": str(tmp_path)})
    assert (s.wave_size, s.wave_timeout_s, s.observers_needed, s.dedupe_window_min) == (3, 120, 2, 30)
    assert s.default_region == "US"


@pytest.mark.parametrize(
    "name,value",
    [
        ("HOTLINE_WAVE_SIZE", "x"),
        ("HOTLINE_WAVE_SIZE", "0"),
        ("HOTLINE_WAVE_TIMEOUT_S", "-5"),
        ("HOTLINE_DEFAULT_REGION", "USA"),
        ("HOTLINE_SEND_RATE", "fast"),
        ("HOTLINE_ENV", "staging"),
        ("HOTLINE_GEO_BOUNDS", "1,2,3"),
        ("HOTLINE_GEO_BOUNDS", "34,-118,33,-117"),
        ("HOTLINE_LANGUAGES", "es"),
    ],
)
def test_bad_value_is_refused_with_its_name(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**LOOPBACK, "HOTLINE_DATA_DIR": str(tmp_path), name: value})


def test_production_refuses_missing_secret_and_credentials(tmp_path):
    with pytest.raises(ConfigError, match="TWILIO"):
        Settings.from_env({"HOTLINE_ENV": "production", "HOTLINE_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="HOTLINE_SECRET"):
        Settings.from_env(
            {
                "HOTLINE_ENV": "production",
                "HOTLINE_DATA_DIR": str(tmp_path),
                "TWILIO_ACCOUNT_SID": "AC1",
                "TWILIO_AUTH_TOKEN": "t",
                "TWILIO_NUMBER": "+13105550100",
            }
        )


def test_dev_credentials_only_against_a_loopback_api(tmp_path):
    real = Settings.from_env({"HOTLINE_DATA_DIR": str(tmp_path)})  # the real api.twilio.com
    assert real.twilio_account_sid is None and real.twilio_auth_token is None
    fake = Settings.from_env({**LOOPBACK, "HOTLINE_DATA_DIR": str(tmp_path)})
    assert fake.twilio_account_sid and fake.twilio_auth_token


def test_without_credentials_webhooks_are_refused_and_sending_says_why(tmp_path):
    from bot.channels import twilio as twilio_channel
    from bot.errors import ConfigError, Forbidden

    bare = Settings.from_env({"HOTLINE_DATA_DIR": str(tmp_path)})
    with pytest.raises(Forbidden):
        twilio_channel.verify_signature(bare.twilio_auth_token, "https://x/twilio/messages", {}, "sig")
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        twilio_channel.make_client(bare)


def test_dev_secret_is_generated_once_per_data_dir(tmp_path):
    first = Settings.from_env({**LOOPBACK, "HOTLINE_DATA_DIR": str(tmp_path)})
    second = Settings.from_env({**LOOPBACK, "HOTLINE_DATA_DIR": str(tmp_path)})
    assert first.secret and first.secret == second.secret
    assert (tmp_path / "dev-secret").stat().st_mode & 0o077 == 0


def test_secrets_are_not_in_repr(tmp_path):
    s = Settings.from_env(
        {
            **LOOPBACK,
            "HOTLINE_DATA_DIR": str(tmp_path),
            "HOTLINE_SECRET": "topsecret",
            "TWILIO_AUTH_TOKEN": "tok-123",
            "TWILIO_ACCOUNT_SID": "AC9",
        }
    )
    assert "topsecret" not in repr(s) and "tok-123" not in repr(s)


def test_every_variable_maps_to_a_settings_field():
    fields = set(Settings.__dataclass_fields__)
    assert {v.attr for v in VARIABLES} <= fields


def test_factory_uses_the_settings_it_is_given(settings, r):
    from bot import create_app

    app = create_app(settings.replace(wave_size=7))
    assert app.extensions["hotline"].settings.wave_size == 7
