"""All configuration, read once from the environment and validated at start.

Every variable is listed in README.md's configuration table. A bad value stops the start with a
message that names the variable; secrets are never logged or shown in ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import zoneinfo
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger("backend.settings")

APP_ENVS = ("dev", "test", "production")
DEFAULT_WECHAT_API_BASE = "https://api.weixin.qq.com"


class SettingsError(ValueError):
    """A configuration value is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    app_env: str = "dev"
    data_dir: str = "./data"
    database_url: str = field(default="", repr=False)  # may carry a password
    database_replica_url: str = field(default="", repr=False)  # a streaming replica for lag-tolerant reads
    replica_max_lag_s: float = 5.0
    redis_url: str = field(default="", repr=False)
    redis_prefix: str = "mp:"
    secret_key: str = field(default="", repr=False)
    pii_key: bytes = field(default=b"", repr=False)
    timezone: str = "Asia/Shanghai"
    max_body_bytes: int = 1_048_576
    import_max_bytes: int = 200 * 1_048_576  # a member import file (the upload route streams it)
    log_level: str = "INFO"
    log_json: bool = True
    member_token_ttl_s: int = 900
    member_refresh_ttl_s: int = 30 * 86400
    staff_token_ttl_s: int = 12 * 3600
    signature_max_skew_s: int = 300
    wechat_app_id: str = ""
    wechat_app_secret: str = field(default="", repr=False)
    wechat_api_base: str = DEFAULT_WECHAT_API_BASE
    wechat_timeout_s: float = 5.0
    wechat_pool_size: int = 8
    # WeChat Pay (API v3), for top-ups paid in the mini-program; off while WECHATPAY_MCHID is unset.
    wechatpay_mchid: str = ""
    wechatpay_serial_no: str = ""  # the merchant API certificate's serial
    wechatpay_private_key: str = field(default="", repr=False)  # its private key, PEM
    wechatpay_apiv3_key: str = field(default="", repr=False)
    wechatpay_platform_serial: str = ""  # WeChat Pay's public key id (or platform certificate serial)
    wechatpay_platform_key: str = ""  # WeChat Pay's public key, PEM
    wechatpay_notify_url: str = ""
    wechatpay_api_base: str = "https://api.mch.weixin.qq.com"
    wechatpay_order_ttl_s: int = 900  # an unpaid order is closed after this
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_tls: str = "starttls"
    smtp_from: str = ""
    sms_provider: str = ""
    sms_api_base: str = "https://sms.tencentcloudapi.com"
    sms_secret_id: str = ""
    sms_secret_key: str = field(default="", repr=False)
    sms_sdk_app_id: str = ""
    sms_sign_name: str = ""
    sms_region: str = "ap-guangzhou"
    sms_callback_secret: str = field(default="", repr=False)
    smtp_tls_verify: bool = True
    wechat_subscribe_state: str = "formal"
    wechat_push_token: str = field(default="", repr=False)
    merchant_name: str = "会员中心"
    public_base_url: str = "http://127.0.0.1:8000"
    sms_concurrency: int = 16
    sms_qps: float = 0.0
    email_concurrency: int = 4
    email_qps: float = 0.0
    wechat_concurrency: int = 8
    wechat_qps: float = 0.0
    worker_in_app: bool = False
    webhook_allow_hosts: tuple[str, ...] = ()
    webhook_timeout_s: float = 15.0
    job_lease_s: int = 120
    touch_parallel: int = 2  # member-id ranges a segment touch writes at once (PostgreSQL)
    template_max_chars: int = 8192
    template_email_max_chars: int = 262_144
    template_render_timeout_s: float = 0.5
    scheduler_in_app: bool = False
    scheduler_refresh_s: int = 30
    refresh_token_grace_s: int = 7 * 86400
    contract_check: bool = False
    test_clock: bool = False
    test_clock_poll_s: float = 1.0

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url)

    @property
    def wechat_sandbox(self) -> bool:
        """Sandbox login answers code2session locally: only without an app id, never in production."""
        return not self.wechat_app_id and not self.is_production

    @property
    def sms_callback_token(self) -> str:
        """The secret SMS callbacks carry in their URL: SMS_CALLBACK_SECRET, or one derived from SECRET_KEY."""
        if self.sms_callback_secret:
            return self.sms_callback_secret
        digest = hmac.new(self.secret_key.encode(), b"sms-callback", hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def public_view(self) -> dict[str, object]:
        """Settings safe to print: secrets replaced by whether they are set."""
        hidden = {"secret_key", "pii_key", "wechat_app_secret", "smtp_password", "sms_secret_key",
                  "sms_callback_secret", "wechat_push_token", "wechatpay_private_key", "wechatpay_apiv3_key"}
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = ("set" if value else "unset") if f.name in hidden else value
        out["database_url"] = _redact_url(self.database_url)
        out["database_replica_url"] = _redact_url(self.database_replica_url)
        out["redis_url"] = _redact_url(self.redis_url)
        return out


def _redact_url(url: str) -> str:
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def _pem(env: dict[str, str], name: str) -> str:
    """A PEM given inline (NAME) or as a file (NAME_FILE)."""
    path = env.get(f"{name}_FILE", "")
    if path:
        try:
            return Path(path).read_text()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE {path!r} cannot be read: {exc.strerror}") from None
    return env.get(name, "").replace("\\n", "\n")


def _wechatpay(env: dict[str, str], app_id: str) -> dict[str, object]:
    mchid = env.get("WECHATPAY_MCHID", "")
    values: dict[str, object] = {
        "wechatpay_mchid": mchid, "wechatpay_serial_no": env.get("WECHATPAY_SERIAL_NO", ""),
        "wechatpay_private_key": _pem(env, "WECHATPAY_PRIVATE_KEY"),
        "wechatpay_apiv3_key": env.get("WECHATPAY_APIV3_KEY", ""),
        "wechatpay_platform_serial": env.get("WECHATPAY_PLATFORM_SERIAL", ""),
        "wechatpay_platform_key": _pem(env, "WECHATPAY_PLATFORM_KEY"),
        "wechatpay_notify_url": env.get("WECHATPAY_NOTIFY_URL", ""),
        "wechatpay_api_base": (env.get("WECHATPAY_API_BASE") or "https://api.mch.weixin.qq.com").rstrip("/"),
        "wechatpay_order_ttl_s": _int(env, "WECHATPAY_ORDER_TTL_S", 900, minimum=60),
    }
    if not mchid:
        return values
    required = {"WECHATPAY_SERIAL_NO": values["wechatpay_serial_no"],
                "WECHATPAY_PRIVATE_KEY": values["wechatpay_private_key"],
                "WECHATPAY_APIV3_KEY": values["wechatpay_apiv3_key"],
                "WECHATPAY_PLATFORM_SERIAL": values["wechatpay_platform_serial"],
                "WECHATPAY_PLATFORM_KEY": values["wechatpay_platform_key"],
                "WECHATPAY_NOTIFY_URL": values["wechatpay_notify_url"], "WECHAT_APP_ID": app_id}
    missing = [name for name, value in required.items() if not value]
    if missing:
        raise SettingsError(f"WECHATPAY_MCHID is set: {', '.join(missing)} must be set too")
    if len(str(values["wechatpay_apiv3_key"]).encode()) != 32:
        raise SettingsError("WECHATPAY_APIV3_KEY is the 32-character APIv3 key of the merchant platform")
    for name in ("WECHATPAY_NOTIFY_URL", "WECHATPAY_API_BASE"):
        url = str(values[name.lower()])
        if urlsplit(url).scheme not in ("http", "https"):
            raise SettingsError(f"{name} must be an http(s) URL")
    return values


def _int(env: dict[str, str], name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, got {value}")
    return value


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw}")
    return value


def _rate(env: dict[str, str], name: str) -> float:
    """Calls per second; 0 or unset means no limit of our own."""
    raw = env.get(name)
    if raw is None or raw in ("", "0"):
        return 0.0
    return _float(env, name, 0.0)


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _decode_pii_key(raw: str) -> bytes:
    try:
        key = base64.b64decode(raw, validate=True)
    except (ValueError, TypeError):
        raise SettingsError("PII_KEY must be base64 (32 random bytes: `openssl rand -base64 32`)") from None
    if len(key) != 32:
        raise SettingsError(f"PII_KEY must decode to 32 bytes, got {len(key)}")
    return key


def _dev_secrets(data_dir: Path) -> dict[str, str]:
    """Generated secrets for dev/test, kept in ./data so restarts keep tokens and PII readable."""
    path = data_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PII_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    path.write_text(json.dumps(generated))
    path.chmod(0o600)
    log.warning("generated development secrets in %s; set SECRET_KEY and PII_KEY for real use", path)
    return generated


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate settings from ``environ`` (default: the process environment)."""
    env = dict(os.environ if environ is None else environ)
    app_env = env.get("APP_ENV", "dev") or "dev"
    if app_env not in APP_ENVS:
        raise SettingsError(f"APP_ENV must be one of {', '.join(APP_ENVS)}, got {app_env!r}")
    production = app_env == "production"
    test_clock = _bool(env, "TEST_CLOCK", False)
    if test_clock and production:
        raise SettingsError("TEST_CLOCK moves the deployment's time: it is refused with APP_ENV=production")
    data_dir = Path(env.get("DATA_DIR") or "./data")

    database_url = env.get("DATABASE_URL", "")
    if not database_url:
        if production:
            raise SettingsError("DATABASE_URL is required in production (postgres://user:pass@host/db)")
        data_dir.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite://{data_dir / 'member.sqlite3'}"
    scheme = urlsplit(database_url).scheme
    if scheme == "postgresql":
        database_url = "postgres" + database_url[len("postgresql") :]
        scheme = "postgres"
    if scheme not in ("postgres", "sqlite"):
        raise SettingsError(f"DATABASE_URL must start with postgres:// or sqlite://, got scheme {scheme!r}")

    replica_url = env.get("DATABASE_REPLICA_URL", "")
    if replica_url:
        replica_scheme = urlsplit(replica_url).scheme
        if replica_scheme not in ("postgres", "postgresql") or scheme != "postgres":
            raise SettingsError("DATABASE_REPLICA_URL must be a postgres:// URL, with a PostgreSQL DATABASE_URL")

    redis_url = env.get("REDIS_URL", "")
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError("REDIS_URL must start with redis://, rediss:// or unix://")

    secret_key = env.get("SECRET_KEY", "")
    pii_raw = env.get("PII_KEY", "")
    missing = [name for name, value in (("SECRET_KEY", secret_key), ("PII_KEY", pii_raw)) if not value]
    if missing:
        if production:
            raise SettingsError(f"{' and '.join(missing)} must be set in production")
        generated = _dev_secrets(data_dir)
        secret_key = secret_key or generated["SECRET_KEY"]
        pii_raw = pii_raw or generated["PII_KEY"]
    if len(secret_key) < 32:
        raise SettingsError("SECRET_KEY must be at least 32 characters")
    pii_key = _decode_pii_key(pii_raw)

    timezone = env.get("TIMEZONE", "Asia/Shanghai") or "Asia/Shanghai"
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"TIMEZONE {timezone!r} is not a known IANA time zone") from None

    wechat_app_id = env.get("WECHAT_APP_ID", "")
    wechat_app_secret = env.get("WECHAT_APP_SECRET", "")
    if wechat_app_id and not wechat_app_secret:
        raise SettingsError("WECHAT_APP_SECRET is required when WECHAT_APP_ID is set")
    if production and not wechat_app_id:
        log.warning("WECHAT_APP_ID is unset: mini-program login is disabled in production")
    wechat_api_base = (env.get("WECHAT_API_BASE") or DEFAULT_WECHAT_API_BASE).rstrip("/")
    if urlsplit(wechat_api_base).scheme not in ("http", "https"):
        raise SettingsError("WECHAT_API_BASE must be an http(s) URL")

    wechatpay = _wechatpay(env, wechat_app_id)

    smtp_tls = env.get("SMTP_TLS", "starttls") or "starttls"
    if smtp_tls not in ("starttls", "tls", "none"):
        raise SettingsError("SMTP_TLS must be starttls, tls or none")
    sms_provider = env.get("SMS_PROVIDER", "")
    if sms_provider not in ("", "tencent", "log"):
        raise SettingsError("SMS_PROVIDER must be tencent or log (unset means log)")

    if sms_provider == "tencent":
        missing_sms = [name for name in ("SMS_SECRET_ID", "SMS_SECRET_KEY", "SMS_SDK_APP_ID", "SMS_SIGN_NAME")
                       if not env.get(name)]
        if missing_sms:
            raise SettingsError(f"SMS_PROVIDER=tencent needs {', '.join(missing_sms)}")
    subscribe_state = env.get("WECHAT_SUBSCRIBE_STATE", "formal") or "formal"
    if subscribe_state not in ("formal", "trial", "developer"):
        raise SettingsError("WECHAT_SUBSCRIBE_STATE must be formal, trial or developer")
    if env.get("SMTP_HOST") and not env.get("SMTP_FROM"):
        raise SettingsError("SMTP_FROM is required when SMTP_HOST is set (the sender address)")

    log_level = (env.get("LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")

    return Settings(
        app_env=app_env,
        data_dir=str(data_dir),
        database_url=database_url,
        redis_url=redis_url,
        database_replica_url=replica_url,
        replica_max_lag_s=max(_float(env, "REPLICA_MAX_LAG_S", 5.0), 0.1),
        redis_prefix=env.get("REDIS_PREFIX", "mp:") or "mp:",
        secret_key=secret_key,
        pii_key=pii_key,
        timezone=timezone,
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 1_048_576, minimum=1024),
        import_max_bytes=_int(env, "IMPORT_MAX_BYTES", 200 * 1_048_576, minimum=1024),
        log_level=log_level,
        log_json=_bool(env, "LOG_JSON", True),
        member_token_ttl_s=_int(env, "MEMBER_TOKEN_TTL_S", 900, minimum=60),
        member_refresh_ttl_s=_int(env, "MEMBER_REFRESH_TTL_S", 30 * 86400, minimum=3600),
        staff_token_ttl_s=_int(env, "STAFF_TOKEN_TTL_S", 12 * 3600, minimum=300),
        signature_max_skew_s=_int(env, "SIGNATURE_MAX_SKEW_S", 300, minimum=30),
        wechat_app_id=wechat_app_id,
        wechat_app_secret=wechat_app_secret,
        wechat_api_base=wechat_api_base,
        wechat_timeout_s=_float(env, "WECHAT_TIMEOUT_S", 5.0),
        wechat_pool_size=_int(env, "WECHAT_POOL_SIZE", 8, minimum=1),
        **wechatpay,
        smtp_host=env.get("SMTP_HOST", ""),
        smtp_port=_int(env, "SMTP_PORT", 587, minimum=1),
        smtp_username=env.get("SMTP_USERNAME", ""),
        smtp_password=env.get("SMTP_PASSWORD", ""),
        smtp_tls=smtp_tls,
        smtp_from=env.get("SMTP_FROM", ""),
        sms_provider=sms_provider,
        sms_api_base=(env.get("SMS_API_BASE") or "https://sms.tencentcloudapi.com").rstrip("/"),
        sms_secret_id=env.get("SMS_SECRET_ID", ""),
        sms_secret_key=env.get("SMS_SECRET_KEY", ""),
        sms_sdk_app_id=env.get("SMS_SDK_APP_ID", ""),
        sms_sign_name=env.get("SMS_SIGN_NAME", ""),
        sms_region=env.get("SMS_REGION") or "ap-guangzhou",
        sms_callback_secret=env.get("SMS_CALLBACK_SECRET", ""),
        smtp_tls_verify=_bool(env, "SMTP_TLS_VERIFY", True),
        wechat_subscribe_state=subscribe_state,
        wechat_push_token=env.get("WECHAT_PUSH_TOKEN", ""),
        merchant_name=env.get("MERCHANT_NAME") or "会员中心",
        public_base_url=(env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
        sms_concurrency=_int(env, "SMS_CONCURRENCY", 16, minimum=1),
        sms_qps=_rate(env, "SMS_QPS"),
        email_concurrency=_int(env, "EMAIL_CONCURRENCY", 4, minimum=1),
        email_qps=_rate(env, "EMAIL_QPS"),
        wechat_concurrency=_int(env, "WECHAT_CONCURRENCY", 8, minimum=1),
        wechat_qps=_rate(env, "WECHAT_QPS"),
        worker_in_app=_bool(env, "WORKER_IN_APP", not env.get("DATABASE_URL")),
        # Webhook targets an operator allows although they resolve to private or loopback addresses.
        webhook_allow_hosts=tuple(host.strip().lower().rstrip(".") for host in
                                  (env.get("WEBHOOK_ALLOW_HOSTS") or "").split(",") if host.strip()),
        webhook_timeout_s=max(_float(env, "WEBHOOK_TIMEOUT_S", 15.0), 0.1),
        job_lease_s=_int(env, "JOB_LEASE_S", 120, minimum=2),
        touch_parallel=_int(env, "TOUCH_PARALLEL", 2, minimum=1, maximum=8),
        template_max_chars=_int(env, "TEMPLATE_MAX_CHARS", 8192, minimum=256),
        template_email_max_chars=_int(env, "TEMPLATE_EMAIL_MAX_CHARS", 262_144, minimum=1024),
        template_render_timeout_s=_float(env, "TEMPLATE_RENDER_TIMEOUT_S", 0.5),
        # The embedded default (no DATABASE_URL, no REDIS_URL) also runs the scheduler in the web process.
        scheduler_in_app=_bool(env, "SCHEDULER_IN_APP", not env.get("DATABASE_URL") and not env.get("REDIS_URL")),
        scheduler_refresh_s=_int(env, "SCHEDULER_REFRESH_S", 30, minimum=1),
        refresh_token_grace_s=_int(env, "REFRESH_TOKEN_GRACE_S", 7 * 86400, minimum=3600),
        # Every answer checked against its route's declared contract (a mismatch is a 500 naming it).
        contract_check=_bool(env, "CONTRACT_CHECK", False) and not production,
        test_clock=test_clock,
        test_clock_poll_s=max(_float(env, "TEST_CLOCK_POLL_S", 1.0), 0.05),
    )
