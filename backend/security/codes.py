"""Dynamic codes for the store scanner: member codes and coupon codes.

A code is all digits, so it fits a QR code and any barcode scanner (Code 128 packs digit pairs):

    kind (1) | length of id (1) | id (1-9) | step mod 100 (2) | MAC (8)

The step is RFC 6238's: 30 s. A code made at step s is accepted at steps s and s+1 (one step of
drift) and never twice: the last accepted step per subject is remembered in the shared store, so
a screenshot cannot be replayed. A valid MAC for an older step is ``CODE_EXPIRED``; anything
else is one generic ``CODE_INVALID`` that says nothing about which part was wrong.

After a scan the shopper needs a new code at once, not at the end of the step: ``issue_fresh``
issues for the step after the last accepted one when the current step is used up, and ``parse``
accepts a code one step ahead of the clock. At most one step ahead: a subject scanned twice within
one step gets a usable code again when the next step begins.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from backend import clock
from backend.errors import error
from backend.kv import KV

STEP_S = 30
ACCEPTED_STEPS = 2
KINDS = {"member": "8", "coupon": "9"}
_KIND_NAMES = {digit: name for name, digit in KINDS.items()}

CodeInvalid = error("CODE_INVALID", 422, "无效的码，请让顾客刷新后重新出示")
CodeExpired = error("CODE_EXPIRED", 422, "码已过期，请让顾客刷新后重新出示")
CodeAlreadyUsed = error("CODE_ALREADY_USED", 409, "该码已被使用，请让顾客刷新后重新出示")


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime
    refresh_after_s: int

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "expires_at": self.expires_at.isoformat(), "refresh_after_s": self.refresh_after_s}


@dataclass(frozen=True)
class ScannedCode:
    kind: str  # member | coupon
    subject_id: int
    step: int


class CodeSigner:
    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"dynamic-code\x00" + secret_key.encode()).digest()

    def _mac(self, kind_digit: str, subject_id: int, step: int) -> str:
        digest = hmac.new(self._key, f"{kind_digit}:{subject_id}:{step}".encode(), hashlib.sha256).digest()
        offset = digest[-1] & 0x0F  # RFC 4226 dynamic truncation
        value = int.from_bytes(digest[offset:offset + 4], "big") & 0x7FFFFFFF
        return f"{value % 10**8:08d}"

    @staticmethod
    def current_step(now: datetime | None = None) -> int:
        return int((now or clock.now()).timestamp()) // STEP_S

    def issue(self, kind: str, subject_id: int, *, step: int | None = None) -> IssuedCode:
        if subject_id <= 0 or subject_id >= 10**9:
            raise ValueError("subject id out of range for a dynamic code")
        now = clock.now()
        current = self.current_step(now)
        step = current if step is None else step
        if not current <= step <= current + 1:
            raise ValueError("a code is issued for the current step or the next one")
        digit, sid = KINDS[kind], str(subject_id)
        code = f"{digit}{len(sid)}{sid}{step % 100:02d}{self._mac(digit, subject_id, step)}"
        step_end = (step + 1) * STEP_S
        expires = datetime.fromtimestamp(step_end + STEP_S * (ACCEPTED_STEPS - 1), tz=now.tzinfo)
        refresh = max(1, step_end - int(now.timestamp()))
        return IssuedCode(code, expires, refresh)

    async def issue_fresh(self, kv: KV, kind: str, subject_id: int) -> IssuedCode:
        """The code to show now: the current step's, or the next step's once the current one was used."""
        current = self.current_step()
        last = await self.last_used_step(kv, kind, subject_id)
        step = current if last is None or last < current else current + 1
        return self.issue(kind, subject_id, step=step)

    def parse(self, code: str) -> ScannedCode:
        """Check form, MAC and age; raises CODE_INVALID or CODE_EXPIRED. Does not consume it."""
        code = (code or "").strip()
        # ASCII digits only: isdigit() also passes "²", which int() refuses, and "٣", another spelling.
        if not (code.isascii() and code.isdigit()) or len(code) < 13 or code[0] not in _KIND_NAMES \
                or code[1] == "0":
            raise CodeInvalid()
        length = int(code[1])
        if len(code) != 2 + length + 2 + 8:
            raise CodeInvalid()
        subject_id = int(code[2:2 + length])
        step_low = int(code[2 + length:4 + length])
        mac = code[4 + length:]
        now_step = self.current_step()
        age = (now_step - step_low) % 100  # the one step within the last 100 with these low digits
        if age == 99:
            age = -1  # issued for the next step, right after the current one was used
        step = now_step - age
        if not hmac.compare_digest(self._mac(code[0], subject_id, step), mac):
            raise CodeInvalid()
        if age >= ACCEPTED_STEPS:
            raise CodeExpired()
        return ScannedCode(_KIND_NAMES[code[0]], subject_id, step)

    async def consume(self, kv: KV, scanned: ScannedCode) -> None:
        """Accept the code once: its step must be later than the subject's last accepted step."""
        key = f"code:last:{scanned.kind}:{scanned.subject_id}"
        ttl = STEP_S * (ACCEPTED_STEPS + 2)
        if not await kv.advance(key, scanned.step, ttl):
            raise CodeAlreadyUsed()

    async def last_used_step(self, kv: KV, kind: str, subject_id: int) -> int | None:
        value = await kv.get(f"code:last:{kind}:{subject_id}")
        return int(value) if value else None

