"""Standard Webhooks signatures (``standardwebhooks``): ``whsec_`` secrets, one ``v1,`` signature per
valid secret in ``webhook-signature``, space-separated, so a rotation never breaks a receiver."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def headers(*, msg_id: str, timestamp: int, body: str, secrets_: list[str]) -> dict[str, str]:
    """The three headers of one delivery, signed with every secret given (current first)."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    signature = " ".join(Webhook(secret).sign(msg_id, when, body) for secret in secrets_)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}
