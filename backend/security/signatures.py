"""HMAC-SHA256 request signatures for integration callers.

The string to sign is five lines: method, path (with the query string, if any), timestamp (unix
seconds), nonce and the hex SHA-256 of the body. The signature is its lowercase hex HMAC under
the app secret. README's integrations section shows a client in a few lines.
"""

from __future__ import annotations

import hashlib
import hmac


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()])


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = string_to_sign(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signature_matches(secret: str, signature: str, method: str, path: str, timestamp: str,
                      nonce: str, body: bytes) -> bool:
    expected = sign(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected, (signature or "").lower())
