"""What the ``dispatch`` benchmark runs on: child processes, the fake SMS provider's process, CPU accounting,
and the outbox it seeds (``bench/benchmarks/dispatch.py`` runs the workers and the baseline over them)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench import servers
from bench.project import Project
from bench.servers import ROOT
from notifications import policy, templates
from notifications.templates import Content, SmsContent, TemplateDoc

START_TIMEOUT_S = 60
# Big enough for the fake's answer to ``contexts`` (one JSON line of every SessionContext).
LINE_LIMIT = 1 << 24
SIGN_NAME = "压测商城"

TEMPLATE_KEY = "bench_notice"
NOTICE = TemplateDoc(name="压测服务通知", purpose="service", channels=["sms"], content=Content(sms=SmsContent(
    template_id="400001", params=["{{ member.member_no }}", "{{ event.n }}"],
    text="{{ member.name }}，您好：会员 {{ member.member_no }} 的第 {{ event.n }} 条服务通知。")))
MESSAGES_PER_MEMBER = 10


# -- processes -------------------------------------------------------------------------------------------

@asynccontextmanager
async def children(argvs: list[list[str]], *, env: dict[str, str], logs: list[Path],
                   pipes: bool = False) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Start one process per argv (stderr, and stdout unless ``pipes``, to its log), stop them all on the way out.

    Each in its own session, as the servers: Ctrl-C reaches the harness only, which stops them.
    """
    started: list[asyncio.subprocess.Process] = []
    try:
        for argv, log in zip(argvs, logs, strict=True):
            with log.open("wb") as log_file:
                started.append(await asyncio.create_subprocess_exec(
                    *argv, cwd=ROOT, env={**os.environ, **env}, start_new_session=True, limit=LINE_LIMIT,
                    stdin=asyncio.subprocess.PIPE if pipes else asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE if pipes else log_file, stderr=log_file))
        yield started
    finally:
        for process in started:
            if process.stdin is not None:
                process.stdin.close()
        await asyncio.gather(*(servers.stop(process) for process in started))


async def read_line(process: asyncio.subprocess.Process, *, name: str, log: Path, timeout_s: float) -> str:
    """The next line the process prints; a ``ServerError`` with its log if it exits or stays silent."""
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout_s)
    except TimeoutError:
        raise servers.ServerError(f"{name} said nothing within {timeout_s:.0f}s:\n{servers.log_tail(log)}") from None
    if not line:
        await process.wait()
        raise servers.ServerError(f"{name} exited with {process.returncode}:\n{servers.log_tail(log)}")
    return line.decode().strip()


class FakeSms:
    """The fake Tencent SMS in its own process (``python -m bench.fake_sms``), asked over its stdin."""

    def __init__(self, process: asyncio.subprocess.Process, info: dict[str, str], log: Path) -> None:
        self.process, self.info, self.log = process, info, log
        self.url = info["url"]

    @classmethod
    @asynccontextmanager
    async def running(cls, log_dir: Path) -> AsyncIterator[FakeSms]:
        log = log_dir / "fake-sms.log"
        async with children([[sys.executable, "-m", "bench.fake_sms"]], env={}, logs=[log], pipes=True) as (process,):
            line = await read_line(process, name="the fake SMS provider", log=log, timeout_s=START_TIMEOUT_S)
            yield cls(process, json.loads(line), log)

    def env(self, concurrency: int) -> dict[str, str]:
        """The worker's SMS settings for this fake (what a deployment sets for Tencent)."""
        return {"SMS_PROVIDER": "tencent", "SMS_API_BASE": self.url, "SMS_SECRET_ID": self.info["secret_id"],
                "SMS_SECRET_KEY": self.info["secret_key"], "SMS_SDK_APP_ID": self.info["sdk_app_id"],
                "SMS_SIGN_NAME": SIGN_NAME, "SMS_CONCURRENCY": str(concurrency)}

    async def ask(self, command: str) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()
        return json.loads(await read_line(self.process, name="the fake SMS provider", log=self.log, timeout_s=30))


# -- CPU -------------------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a running process (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (every core, every process) since boot (``/proc/stat``)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


@dataclass
class CpuMeter:
    """Cores in use on average over a window: the measured processes, the fake, the whole machine."""

    processes: float = 0.0
    fake: float = 0.0
    machine: float = 0.0
    _started: float = 0.0

    def start(self, processes: float, fake: float) -> None:
        """CPU seconds used so far by the measured processes and by the fake."""
        self.processes, self.fake, self.machine = -processes, -fake, -machine_busy_s()
        self._started = time.monotonic()

    def stop(self, processes: float, fake: float) -> None:
        """CPU seconds used by then (for processes measured by themselves: 0 at start, their use at stop)."""
        window = time.monotonic() - self._started
        self.processes = (self.processes + processes) / window
        self.fake = (self.fake + fake) / window
        self.machine = (self.machine + machine_busy_s()) / window


# -- the outbox ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outbox:
    message_ids: list[int]
    phones: dict[int, str]  # member id -> phone, for the baseline's payloads
    members: int
    seconds: float


async def seed_outbox(project: Project, messages: int) -> Outbox:
    """``messages`` SMS of the service template ``bench_notice`` due now, dealt in turn to members with a
    phone; the policy's caps emptied. Written with SQL (members, consents, accounts, messages) and the
    notification services (the template, the policy): the workers read them as they read any."""
    from backend import audit
    from backend.security.pii import PiiCipher

    started = time.monotonic()
    await templates.create(TEMPLATE_KEY, NOTICE, actor=audit.SYSTEM)
    await policy.save(policy.default_policy().model_copy(update={"caps": []}))
    count = max(1, -(-messages // MESSAGES_PER_MEMBER))
    first = 10**7 + secrets.randbelow(8 * 10**7)
    phones = [f"139{first + n:08d}" for n in range(count)]
    pii = PiiCipher(project.settings.pii_key)
    tag = secrets.token_hex(3).upper()
    numbers = {f"B{tag}{n:07d}": phone for n, phone in enumerate(phones)}  # member_no -> phone
    db = await asyncpg.connect(project.dsn, timeout=10)
    try:
        async with db.transaction():
            rows = await db.fetch(
                "INSERT INTO members (member_no, status, phone_enc, phone_prefix3, phone_last4, nickname, gender, "
                "custom_fields, referral_code, registration_channel, registered_at, updated_at) "
                "SELECT no, 'active', enc, left(phone, 3), right(phone, 4), nick, 'female', '{}', ref, 'pos', now(), "
                "now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) "
                "AS v(no, enc, phone, nick, ref) RETURNING id, member_no",
                list(numbers), [pii.encrypt(p) for p in phones], phones, [f"压测会员{n}" for n in range(count)],
                [f"R{tag}{n:05d}" for n in range(count)])
            phone_of = {int(row["id"]): numbers[row["member_no"]] for row in rows}
            member_ids = sorted(phone_of)
            await db.execute("INSERT INTO loyalty_accounts (member_id, updated_at) SELECT unnest($1::bigint[]), now()",
                             member_ids)
            await db.execute(  # what a registration with {"sms_marketing": true} records
                "INSERT INTO member_consents (member_id, channel, purpose, granted, source, text_version, updated_at) "
                "SELECT unnest($1::bigint[]), 'sms', 'marketing', true, 'pos', '2026-01', now()", member_ids)
            ids = await db.fetch(
                "INSERT INTO messages (member_id, template_key, purpose, channels, status, dedupe_key, context, "
                "cap_behaviour, attempts, due_at, created_at, updated_at) "
                "SELECT ($1::bigint[])[1 + n % $2], $3, 'service', '[]', 'queued', 'bench:' || n, "
                "jsonb_build_object('n', n + 1), 'drop', 0, now() - interval '1 second', now(), now() "
                "FROM generate_series(0, $4 - 1) AS n ORDER BY n RETURNING id",
                member_ids, count, TEMPLATE_KEY, messages)
    finally:
        await db.close()
    return Outbox(message_ids=sorted(int(row["id"]) for row in ids), phones=phone_of, members=count,
                  seconds=time.monotonic() - started)


async def write_payloads(dsn: str, outbox: Outbox, path: Path) -> int:
    """The SMS the workers rendered, one JSON line each in message order: the baseline sends these."""
    db = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await db.fetch("SELECT id, member_id, purpose, rendered FROM messages ORDER BY id")
    finally:
        await db.close()
    with path.open("w") as out:
        for row in rows:
            rendered = json.loads(row["rendered"])
            out.write(json.dumps({"id": row["id"], "purpose": row["purpose"], "phone": outbox.phones[row["member_id"]],
                                  "template_id": rendered["template_id"], "params": rendered["params"],
                                  "text": rendered["text"]}, ensure_ascii=False) + "\n")
    return len(rows)


def log_problems(paths: list[Path], limit: int = 5) -> tuple[int, list[str]]:
    """Warnings and errors the processes logged (JSON lines, or anything else they printed): how many,
    and the most frequent messages."""
    seen: Counter[str] = Counter()
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                seen[f"(not JSON) {line[:160]}"] += 1
                continue
            if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
                seen[f"{entry['level']} {entry.get('logger')}: {str(entry.get('msg'))[:160]}"] += 1
    return sum(seen.values()), [f"{n} × {text}" for text, n in seen.most_common(limit)]
