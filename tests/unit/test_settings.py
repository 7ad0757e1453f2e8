import base64
import json

import pytest

from backend.settings import SettingsError, load_settings

KEY = base64.b64encode(b"k" * 32).decode()


def env(tmp_path, **overrides):
    base = {"DATA_DIR": str(tmp_path), "SECRET_KEY": "s" * 40, "PII_KEY": KEY}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_embedded_default_uses_a_sqlite_file_and_the_in_process_store(tmp_path):
    settings = load_settings(env(tmp_path))
    assert settings.database_url == f"sqlite://{tmp_path}/member.sqlite3"
    assert not settings.uses_redis
    assert settings.timezone == "Asia/Shanghai"
    assert settings.wechat_sandbox
    assert settings.worker_in_app  # one process also delivers the messages it queues
    assert not load_settings(env(tmp_path, DATABASE_URL="postgres://db/x")).worker_in_app


@pytest.mark.parametrize(("name", "value", "message"), [
    ("APP_ENV", "staging", "APP_ENV must be one of"),
    ("DATABASE_URL", "mysql://x/y", "DATABASE_URL must start with postgres:// or sqlite://"),
    ("REDIS_URL", "http://localhost", "REDIS_URL must start with redis://"),
    ("PII_KEY", "not base64!", "PII_KEY must be base64"),
    ("SMS_PROVIDER", "tencent", "SMS_PROVIDER=tencent needs SMS_SECRET_ID, SMS_SECRET_KEY"),
    ("SMS_PROVIDER", "aliyun", "SMS_PROVIDER must be tencent or log"),
    ("SMTP_HOST", "smtp.example.test", "SMTP_FROM is required when SMTP_HOST is set"),
    ("WECHAT_SUBSCRIBE_STATE", "beta", "WECHAT_SUBSCRIBE_STATE must be formal, trial or developer"),
    ("JOB_LEASE_S", "1", "JOB_LEASE_S must be at least 2"),
    ("TOUCH_PARALLEL", "0", "TOUCH_PARALLEL must be at least 1"),
    ("TOUCH_PARALLEL", "9", "TOUCH_PARALLEL must be at most 8"),
    ("PII_KEY", base64.b64encode(b"short").decode(), "PII_KEY must decode to 32 bytes, got 5"),
    ("TIMEZONE", "Mars/Olympus", "TIMEZONE 'Mars/Olympus' is not a known IANA time zone"),
    ("MAX_BODY_BYTES", "lots", "MAX_BODY_BYTES must be an integer"),
    ("SECRET_KEY", "short", "SECRET_KEY must be at least 32 characters"),
    ("SMTP_TLS", "ssl3", "SMTP_TLS must be starttls, tls or none"),
    ("LOG_JSON", "maybe", "LOG_JSON must be true or false"),
])
def test_a_bad_value_stops_the_start_with_a_message_naming_the_variable(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(env(tmp_path, **{name: value}))


def test_production_refuses_to_start_without_secrets(tmp_path):
    with pytest.raises(SettingsError, match="SECRET_KEY and PII_KEY must be set in production"):
        load_settings(env(tmp_path, APP_ENV="production", DATABASE_URL="postgres://db/x",
                          SECRET_KEY=None, PII_KEY=None))


def test_production_requires_a_database_url(tmp_path):
    with pytest.raises(SettingsError, match="DATABASE_URL is required in production"):
        load_settings(env(tmp_path, APP_ENV="production"))


def test_dev_generates_secrets_once_and_keeps_them(tmp_path):
    first = load_settings(env(tmp_path, SECRET_KEY=None, PII_KEY=None))
    second = load_settings(env(tmp_path, SECRET_KEY=None, PII_KEY=None))
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert first.secret_key == second.secret_key == stored["SECRET_KEY"]
    assert len(first.pii_key) == 32
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def test_secrets_never_appear_in_repr_or_public_view(tmp_path):
    settings = load_settings(env(tmp_path, WECHAT_APP_ID="wx1", WECHAT_APP_SECRET="wechat-secret",
                                 DATABASE_URL="postgres://u:dbpass@h/db"))
    text = repr(settings) + json.dumps(settings.public_view(), default=str)
    for secret in ("s" * 40, "wechat-secret", "dbpass"):
        assert secret not in text
    assert settings.public_view()["secret_key"] == "set"


def test_wechat_app_id_without_secret_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="WECHAT_APP_SECRET is required"):
        load_settings(env(tmp_path, WECHAT_APP_ID="wx123"))


def test_postgresql_scheme_is_accepted_as_postgres(tmp_path):
    settings = load_settings(env(tmp_path, DATABASE_URL="postgresql://u@h/db"))
    assert settings.database_url == "postgres://u@h/db"


def test_the_embedded_default_runs_the_scheduler_in_the_web_process_and_a_shared_setup_does_not(tmp_path):
    assert load_settings(env(tmp_path)).scheduler_in_app
    assert not load_settings(env(tmp_path, DATABASE_URL="postgres://db/x")).scheduler_in_app
    assert not load_settings(env(tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")).scheduler_in_app
    assert not load_settings(env(tmp_path, SCHEDULER_IN_APP="false")).scheduler_in_app
    assert load_settings(env(tmp_path, DATABASE_URL="postgres://db/x", SCHEDULER_IN_APP="true")).scheduler_in_app


@pytest.mark.parametrize(("name", "value", "message"), [
    ("SCHEDULER_REFRESH_S", "0", "SCHEDULER_REFRESH_S must be at least 1"),
    ("REFRESH_TOKEN_GRACE_S", "60", "REFRESH_TOKEN_GRACE_S must be at least 3600"),
    ("SCHEDULER_IN_APP", "sometimes", "SCHEDULER_IN_APP must be true or false"),
])
def test_the_scheduler_and_purge_settings_are_validated(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env(tmp_path, **{name: value}))


def test_a_read_replica_is_a_postgres_url_beside_a_postgres_primary_and_never_printed_with_its_password(tmp_path):
    settings = load_settings(env(tmp_path, DATABASE_URL="postgres://db/x",
                                 DATABASE_REPLICA_URL="postgresql://reader:secret@standby/x", REPLICA_MAX_LAG_S="2.5"))
    assert settings.database_replica_url == "postgresql://reader:secret@standby/x"
    assert settings.replica_max_lag_s == 2.5
    assert settings.public_view()["database_replica_url"] == "postgresql://reader:***@standby/x"
    assert load_settings(env(tmp_path)).database_replica_url == ""  # none by default
    with pytest.raises(SettingsError, match="DATABASE_REPLICA_URL"):
        load_settings(env(tmp_path, DATABASE_REPLICA_URL="postgres://standby/x"))  # the primary is SQLite
    with pytest.raises(SettingsError, match="DATABASE_REPLICA_URL"):
        load_settings(env(tmp_path, DATABASE_URL="postgres://db/x", DATABASE_REPLICA_URL="mysql://standby/x"))


WECHATPAY = {"WECHAT_APP_ID": "wx1", "WECHAT_APP_SECRET": "wechat-secret", "WECHATPAY_MCHID": "1900000109",
             "WECHATPAY_SERIAL_NO": "5157F09E", "WECHATPAY_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\\nsecret-pem",
             "WECHATPAY_APIV3_KEY": "a" * 32, "WECHATPAY_PLATFORM_SERIAL": "PUB_KEY_ID_01",
             "WECHATPAY_PLATFORM_KEY": "-----BEGIN PUBLIC KEY-----", "WECHATPAY_NOTIFY_URL": "https://shop.test/n"}


def test_wechat_pay_needs_all_its_settings_and_never_prints_its_keys(tmp_path):
    settings = load_settings(env(tmp_path, **WECHATPAY))
    assert settings.wechatpay_private_key == "-----BEGIN PRIVATE KEY-----\nsecret-pem"  # \n given as two characters
    text = repr(settings) + json.dumps(settings.public_view(), default=str)
    assert "secret-pem" not in text and "a" * 32 not in text
    assert settings.public_view()["wechatpay_apiv3_key"] == "set"
    with pytest.raises(SettingsError, match="WECHATPAY_NOTIFY_URL, WECHAT_APP_ID must be set too"):
        load_settings(env(tmp_path, **{**WECHATPAY, "WECHATPAY_NOTIFY_URL": "", "WECHAT_APP_ID": ""}))
    with pytest.raises(SettingsError, match="32-character"):
        load_settings(env(tmp_path, **{**WECHATPAY, "WECHATPAY_APIV3_KEY": "short"}))
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_text("-----BEGIN PRIVATE KEY-----\nfrom-file\n")
    from_file = load_settings(env(tmp_path, **{**WECHATPAY, "WECHATPAY_PRIVATE_KEY_FILE": str(key_file)}))
    assert from_file.wechatpay_private_key.endswith("from-file\n")
    assert not load_settings(env(tmp_path)).wechatpay_mchid  # off by default
