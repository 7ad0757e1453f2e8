"""Member imports: the dry run (every row checked, totals, the error report), the run, and the undo.

- **Dry run** (``create``): the file is read and every row checked; the rows are stored, encrypted with
  the PII key, with their problems and whether their phone is new (create) or a member's (join). The
  same file (SHA-256) as an import that was not undone is refused: running a file twice changes nothing.
- **Run** (``run``): a job (``jobs.runs``) walking the rows by number in batches; each batch's members,
  identities, ledger entries, lots, consents, tags, timeline events and row outcomes commit with the
  job's cursor, so a crashed run resumes after the last committed row and no row is written twice.
  New phones are written in bulk; a phone that is already a member joins that member (one member per
  phone, as for registration): empty profile fields are filled, nothing is overwritten, balances are
  added as ledger entries of kind ``import`` (ref ``import:<import>:<row>``) under the account lock,
  the tier only ever goes up, and consents are recorded only where the member has no state yet.
  Original consent sources and dates are kept. Imported members get no registration reward and no
  welcome message: they are not new to the merchant.
- **Undo** (``undo``): all or nothing, and only while no imported member has changed since (their
  latest timeline event is still this import's ``imported``). Balances are reversed by ledger entries
  of kind ``import_undo`` (ledgers stay append-only); created members are erased (identities released,
  personal data removed, status ``deleted``); joined members get back what the import filled in.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend import audit, clock, db
from backend.imports import parse, validate
from backend.imports.errors import (
    ImportAlreadyDone,
    ImportFileInvalid,
    ImportHasErrors,
    ImportMembersChanged,
    ImportNotFound,
    ImportState,
)
from backend.imports.models import MemberImport, MemberImportRow
from backend.kv import KV
from backend.loyalty import program as loyalty_program
from backend.loyalty.accounts import Assets, Context
from backend.loyalty.models import PointsEntry, PointsLot, TierChange, WalletEntry
from backend.members import erasure, events
from backend.members.models import (
    CHANNELS,
    ConsentRecord,
    CustomFieldDef,
    Member,
    MemberConsent,
    MemberIdentity,
)
from backend.members.service import new_member_no, new_referral_code
from backend.security.pii import PiiCipher
from backend.stores.models import Store
from jobs import runs
from jobs.audience_models import MemberTag, Tag

log = logging.getLogger("backend.imports")

BATCH = 2000  # rows per committed step of a run
CHECK_BATCH = 2000  # rows per lookup while checking
JOB = "member_import"
WRITTEN = ["running", "completed", "failed", "undoing"]  # an import of these has written (or is writing) rows
UNDO_SOURCE = "import_undo"


@dataclass(frozen=True)
class Options:
    channel: str = "pos"  # the imported members' registration channel
    skip_invalid: bool = False  # run the valid rows of a file that has invalid ones


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start:start + size] for start in range(0, len(items), size)]


async def _rules(now: datetime, tz: Any) -> validate.Rules:
    stores = {code: store_id for store_id, code in await Store.filter(active=True).values_list("id", "code")}
    fields = {d.key: d for d in await CustomFieldDef.filter(active=True)}
    return validate.Rules(tz=tz, now=now, program=await loyalty_program.load(fresh=True), stores=stores,
                          fields=fields)


async def _owners(kind: str, values: list[str], conn: BaseDBAsyncClient | None = None) -> dict[str, int]:
    """Which member holds each identity value (a batch at a time, by the unique index)."""
    owners: dict[str, int] = {}
    for chunk in _chunks(sorted(set(values)), CHECK_BATCH):
        if db.is_postgres():
            rows = await db.fetch(_OWNERS, kind, chunk, conn=conn)
            owners.update({row["value"]: int(row["member_id"]) for row in rows})
            continue
        found = await MemberIdentity.filter(kind=kind, app_id="", value__in=chunk).using_db(conn).values_list(
            "value", "member_id")
        owners.update({value: int(member_id) for value, member_id in found})
    return owners


# A join from the values: one index probe each (an IN list of thousands may be planned as a scan).
_OWNERS = ("SELECT i.value, i.member_id FROM unnest($2::text[]) AS u(value) JOIN member_identities i "
           "ON i.kind = $1 AND i.app_id = '' AND i.value = u.value")
ANALYZE_EVERY = 10  # batches: a table that grows from nothing by an import is planned from fresh statistics


def _new_totals() -> dict[str, Any]:
    return {"create": 0, "join": 0, "points": 0, "principal_cents": 0, "bonus_cents": 0, "consents": 0,
            "by_store": {}, "by_tier": {}}


def _add_totals(totals: dict[str, Any], action: str, values: dict[str, Any], store_codes: dict[int, str]) -> None:
    totals[action] += 1
    totals["points"] += values.get("points", 0)
    totals["principal_cents"] += values.get("principal_cents", 0)
    totals["bonus_cents"] += values.get("bonus_cents", 0)
    totals["consents"] += len(values.get("consents", []))
    store = store_codes.get(values.get("store_id"), "") if values.get("store_id") else ""
    by_store = totals["by_store"].setdefault(store, {"members": 0, "principal_cents": 0, "bonus_cents": 0,
                                                     "points": 0})
    by_store["members"] += 1
    by_store["principal_cents"] += values.get("principal_cents", 0)
    by_store["bonus_cents"] += values.get("bonus_cents", 0)
    by_store["points"] += values.get("points", 0)
    if values.get("tier"):
        totals["by_tier"][values["tier"]] = totals["by_tier"].get(values["tier"], 0) + 1


async def create(*, filename: str, content: bytes, options: Options, actor: audit.Actor, pii: PiiCipher,
                 tz: Any) -> MemberImport:
    """The dry run: read and check every row, store them with their problems; nothing is imported yet."""
    if options.channel not in CHANNELS:
        raise ImportFileInvalid(details={"channel": f"应为 {' / '.join(CHANNELS)}"})
    digest = hashlib.sha256(content).hexdigest()
    earlier = await MemberImport.filter(sha256=digest, status__in=WRITTEN).order_by("id").first()
    if earlier is not None:
        raise ImportAlreadyDone(details={"import_id": earlier.id, "status": earlier.status})
    try:
        table = parse.read_table(filename, content)
    except parse.FileProblem as exc:
        raise ImportFileInvalid(details={"reason": exc.reason, **exc.details}) from None
    now = clock.now()
    rules = await _rules(now, tz)
    store_codes = {store_id: code for code, store_id in rules.stores.items()}
    totals = _new_totals()
    seen: dict[str, dict[str, int]] = {"phone": {}, "email": {}, "legacy_no": {}}
    total = valid = 0
    async with in_transaction() as conn:
        # A dry run of the same file that never ran is replaced by this one (its rows, with their data, go).
        for stale in await MemberImport.filter(sha256=digest, status="validated").using_db(conn):
            await MemberImportRow.filter(import_id=stale.id).using_db(conn).delete()
            await MemberImport.filter(id=stale.id).using_db(conn).update(status="discarded", updated_at=now)
        imp = await MemberImport.create(filename=filename[:200], format=table.format, encoding=table.encoding,
                                        sha256=digest, channel=options.channel, skip_invalid=options.skip_invalid,
                                        totals={}, counts={}, created_by=actor.id, created_at=now, updated_at=now,
                                        using_db=conn)
        batch: list[parse.Row] = []
        try:
            for row_no, raw in table.rows:
                total += 1
                if total > parse.MAX_ROWS:
                    raise ImportFileInvalid(details={"reason": f"一次最多导入 {parse.MAX_ROWS} 行"})
                batch.append(validate.check(row_no, raw, rules))
                if len(batch) >= CHECK_BATCH:
                    valid += await _store_rows(conn, imp, batch, seen, totals, store_codes, pii)
                    batch = []
        except parse.FileProblem as exc:
            raise ImportFileInvalid(details={"reason": exc.reason, **exc.details}) from None
        valid += await _store_rows(conn, imp, batch, seen, totals, store_codes, pii)
        if total == 0:
            raise ImportFileInvalid(details={"reason": "文件中没有数据行"})
        imp.rows_total, imp.rows_valid, imp.rows_invalid, imp.totals = total, valid, total - valid, totals
        await imp.save(using_db=conn, update_fields=["rows_total", "rows_valid", "rows_invalid", "totals"])
        await audit.record(actor=actor, action="import.create", target_type="member_import", target_id=imp.id,
                           after={"filename": imp.filename, "rows": total, "invalid": total - valid},
                           using_db=conn)
    return imp


async def _store_rows(conn: BaseDBAsyncClient, imp: MemberImport, batch: list[parse.Row],
                      seen: dict[str, dict[str, int]], totals: dict[str, Any], store_codes: dict[int, str],
                      pii: PiiCipher) -> int:
    """Duplicates within the file, phones, emails and old card numbers already taken; then the rows."""
    for row in batch:
        for column in ("phone", "email", "legacy_no"):
            value = row.values.get(column)
            if value is None:
                continue
            first = seen[column].setdefault(value, row.row_no)
            if first != row.row_no:
                row.problem(column, f"与第 {first} 行重复")
    indexes = {row.row_no: pii.blind_index("phone", row.values["phone"]) for row in batch if "phone" in row.values}
    members = await _owners("phone", list(indexes.values()), conn)
    emails = await _owners("email", [r.values["email"] for r in batch if "email" in r.values], conn)
    legacy = await _owners("legacy", [r.values["legacy_no"] for r in batch if "legacy_no" in r.values], conn)
    now = clock.now()
    out: list[tuple[Any, ...]] = []
    valid = 0
    for row in batch:
        member_id = members.get(indexes.get(row.row_no, ""))
        for column, owners in (("email", emails), ("legacy_no", legacy)):
            owner = owners.get(row.values.get(column, ""))
            if owner is not None and owner != member_id:
                row.problem(column, "已被其他会员使用")
        action = "join" if member_id is not None else "create"
        ok = not row.errors
        if ok:
            valid += 1
            _add_totals(totals, action, row.values, store_codes)
        out.append((imp.id, row.row_no, "valid" if ok else "invalid", action if ok else None,
                    indexes.get(row.row_no), pii.encrypt(json.dumps(row.values, ensure_ascii=False)) if ok else None,
                    json.dumps(row.errors, ensure_ascii=False), now))
    await db.copy_rows("member_import_rows", ("import_id", "row_no", "status", "action", "phone_index", "data_enc",
                                              "errors", "updated_at"), out, conn)
    return valid


# --- the run ---

async def start(*, import_id: int, actor: audit.Actor, skip_invalid: bool | None = None) -> MemberImport:
    """validated (or failed) → running, once: a second start answers the import as it is. The caller then
    runs it (``run``), in the background for the console."""
    imp = await get(import_id)
    if imp.status in ("running", "completed"):
        return imp
    if imp.status not in ("validated", "failed"):
        raise ImportState(details={"status": imp.status})
    skip = imp.skip_invalid if skip_invalid is None else skip_invalid
    if imp.rows_invalid and not skip:
        raise ImportHasErrors(details={"rows_invalid": imp.rows_invalid})
    now = clock.now()
    moved = await MemberImport.filter(id=import_id, status=imp.status).update(
        status="running", skip_invalid=skip, started_at=imp.started_at or now, error=None, updated_at=now)
    if moved:
        await audit.record(actor=actor, action="import.run", target_type="member_import", target_id=import_id,
                           after={"rows_valid": imp.rows_valid})
    return await get(import_id)


async def run(*, import_id: int, pii: PiiCipher, tz: Any, kv: KV, owner: str | None = None, lease_s: int = 120,
              batch: int = BATCH, on_progress: Any = None) -> dict[str, Any]:
    """Write the import's valid rows (resuming after the last committed one); the job run's outcome."""
    imp = await get(import_id)
    if imp.status not in ("running", "failed"):
        raise ImportState(details={"status": imp.status})
    if imp.status == "failed":
        await MemberImport.filter(id=import_id, status="failed").update(status="running", error=None,
                                                                       updated_at=clock.now())
    writer = _Writer(imp, pii, tz, await loyalty_program.load(fresh=True))

    async def step(cursor: int, conn: BaseDBAsyncClient) -> tuple[int | None, dict[str, int]]:
        rows = [_Pending(**row) for row in await db.fetch(_PENDING, import_id, cursor, batch, conn=conn)]
        if not rows:
            return None, {}
        writer.batches += 1
        if db.is_postgres() and writer.batches % ANALYZE_EVERY == 1:
            await db.fetch("ANALYZE member_identities", conn=conn)
        counts = await writer.write(conn, [row for row in rows if row.status == "valid"])  # type: ignore[arg-type]
        last = rows[-1].row_no
        await MemberImport.filter(id=import_id).using_db(conn).update(cursor=last, updated_at=clock.now())
        if on_progress is not None:
            on_progress(last, counts)
        return last, counts

    result = await runs.run(JOB, str(import_id), step, kv=kv, owner=owner or runs.new_owner(), lease_s=lease_s)
    await _finish(import_id, result)
    return result


async def _finish(import_id: int, result: dict[str, Any]) -> None:
    outcome = result["outcome"]
    now = clock.now()
    counts = result.get("counts") or {}
    if outcome in ("done", "resumed", "already_done"):
        row_counts = dict(Counter(await MemberImportRow.filter(import_id=import_id).values_list("status", flat=True)))
        await MemberImport.filter(id=import_id, status="running").update(
            status="completed", finished_at=now, updated_at=now, counts={**counts, "rows": row_counts})
    elif outcome == "failed":
        await MemberImport.filter(id=import_id, status="running").update(
            status="failed", error=str(result.get("error", ""))[:300], counts=counts, updated_at=now)


async def resume_stale(*, pii: PiiCipher, tz: Any, kv: KV, owner: str, lease_s: int) -> list[dict[str, Any]]:
    """Runs whose process stopped (no heartbeat for ``lease_s``) go on from their cursor; called by the
    scheduler's maintenance every few minutes."""
    stale_before = clock.now() - timedelta(seconds=lease_s)
    results = []
    for imp in await MemberImport.filter(status="running").order_by("id"):
        row = await db.fetch_one("SELECT status, heartbeat_at FROM job_runs WHERE job = $1 AND period = $2",
                                 JOB, str(imp.id))
        heartbeat = db.to_datetime(row["heartbeat_at"]) if row else None
        if row is None and imp.started_at and imp.started_at > stale_before:
            continue  # started a moment ago: its runner is about to create the job row
        if row is not None and row["status"] == "running" and heartbeat and heartbeat > stale_before:
            continue
        results.append(await run(import_id=imp.id, pii=pii, tz=tz, kv=kv, owner=owner, lease_s=lease_s))
    return results


MEMBER_COLUMNS = ("id", "member_no", "status", "phone_enc", "phone_last4", "phone_prefix3", "nickname", "gender",
                  "birthday", "email", "custom_fields", "referral_code", "registration_channel",
                  "registration_store_id", "registered_at", "registration_rewarded_at", "updated_at")
ACCOUNT_COLUMNS = ("member_id", "points_balance", "points_debt", "principal_cents", "bonus_cents", "tier_code",
                   "tier_since", "tier_measure", "version", "updated_at")
ENTRY_COLUMNS = ("id", "member_id", "kind", "points", "debt_delta", "balance_after", "reason", "source", "channel",
                 "store_id", "ref", "created_at")
WALLET_COLUMNS = ("member_id", "kind", "principal_cents", "bonus_cents", "principal_after", "bonus_after", "reason",
                  "channel", "store_id", "ref", "created_at")
CONSENT_COLUMNS = ("member_id", "channel", "purpose", "granted", "source", "text_version")


async def _mark_rows(conn: BaseDBAsyncClient, outcomes: list[tuple[int, int]], status: str, now: datetime) -> None:
    """Each row's outcome and member in one statement (PostgreSQL) or one prepared run (SQLite)."""
    if db.is_postgres():
        await db.fetch("UPDATE member_import_rows r SET status = $1, member_id = u.member_id, updated_at = $2 "
                       "FROM unnest($3::bigint[], $4::bigint[]) AS u(id, member_id) WHERE r.id = u.id",
                       status, now, [row_id for row_id, _ in outcomes], [mid for _, mid in outcomes], conn=conn)
        return
    await conn.execute_many("UPDATE member_import_rows SET status = ?, member_id = ?, updated_at = ? WHERE id = ?",
                            [[status, mid, str(now), row_id] for row_id, mid in outcomes])


_PENDING = ("SELECT id, row_no, status, phone_index, data_enc FROM member_import_rows "
            "WHERE import_id = $1 AND row_no > $2 ORDER BY row_no LIMIT $3")


@dataclass
class _Pending:
    """A row the run reads (a plain record: building ORM models cost more than writing the rows)."""

    id: int
    row_no: int
    status: str
    phone_index: str | None
    data_enc: str | None


class _Writer:
    """Writes one batch of rows on the step's transaction."""

    def __init__(self, imp: MemberImport, pii: PiiCipher, tz: Any, program: loyalty_program.Program) -> None:
        self.imp, self.pii, self.tz, self.program = imp, pii, tz, program
        self.tags: dict[str, int] = {}
        self.batches = 0

    def ref(self, row: MemberImportRow) -> str:
        return f"import:{self.imp.id}:{row.row_no}"

    def reason(self, row: MemberImportRow) -> str:
        return f"导入「{self.imp.filename}」第 {row.row_no} 行"[:200]

    def expiry(self, values: dict[str, Any], now: datetime) -> datetime | None:
        if values.get("points_expires_at"):
            return datetime.fromisoformat(values["points_expires_at"])
        return self.program.lot_expiry(now, str(self.tz))

    async def tag_ids(self, conn: BaseDBAsyncClient, names: list[str]) -> list[int]:
        """Manual tags by name or code, created when missing."""
        missing = [name for name in names if name not in self.tags]
        if missing:
            for tag in await Tag.filter(code__in=missing).using_db(conn):
                self.tags[tag.code] = tag.id
            for name in missing:
                if name not in self.tags:
                    await Tag.bulk_create([Tag(code=name, name=name, kind="manual", group="", created_at=clock.now())],
                                          ignore_conflicts=True, using_db=conn)
                    tag = await Tag.get(code=name).using_db(conn)
                    self.tags[name] = tag.id
        return [self.tags[name] for name in names]

    async def write(self, conn: BaseDBAsyncClient, rows: list[MemberImportRow]) -> dict[str, int]:
        counts: Counter[str] = Counter()
        values = {row.row_no: json.loads(self.pii.decrypt(row.data_enc)) for row in rows if row.data_enc}
        owners = await _owners("phone", [row.phone_index for row in rows if row.phone_index], conn)
        creating = [row for row in rows if row.phone_index not in owners]
        joining = [row for row in rows if row.phone_index in owners]
        if creating:
            try:
                async with in_transaction() as nested:  # a savepoint: a clash falls back to one row at a time
                    await self.create_many(nested, creating, values)
                counts["created"] += len(creating)
            except IntegrityError:
                for row in creating:
                    counts[await self.one(conn, row, values[row.row_no])] += 1
        for row in joining:
            counts[await self.one(conn, row, values[row.row_no], member_id=owners[row.phone_index])] += 1
        return dict(counts)

    async def one(self, conn: BaseDBAsyncClient, row: MemberImportRow, values: dict[str, Any],
                  member_id: int | None = None) -> str:
        """One row in its own savepoint: created, joined, or failed with the reason kept on the row."""
        for _ in range(3):
            try:
                async with in_transaction() as nested:
                    if member_id is None:
                        await self.create_many(nested, [row], {row.row_no: values})
                        return "created"
                    await self.join(nested, row, values, member_id)
                    return "joined"
            except IntegrityError as exc:
                owner = (await _owners("phone", [row.phone_index or ""], conn)).get(row.phone_index or "")
                if member_id is None and owner is not None:
                    member_id = owner  # registered meanwhile (another channel): join that member
                    continue
                reason = f"写入冲突：{type(exc).__name__}"
                break
            except Exception as exc:  # a row that cannot be written is reported, the others go on
                log.exception("import row failed", extra={"import_id": self.imp.id, "row_no": row.row_no})
                reason = f"{type(exc).__name__}: {exc}"
                break
        else:
            reason = "写入冲突"
        await MemberImportRow.filter(id=row.id).using_db(conn).update(status="failed", outcome=reason[:300],
                                                                      updated_at=clock.now())
        return "failed"

    async def create_many(self, conn: BaseDBAsyncClient, rows: list[MemberImportRow],
                          values: dict[int, dict[str, Any]]) -> None:
        """New members in bulk: a few COPY statements per batch whatever its size (ids drawn first)."""
        now = clock.now()
        channel = self.imp.channel
        if not db.is_postgres():  # take SQLite's write lock before reading the next free ids
            await db.fetch("UPDATE member_imports SET updated_at = $1 WHERE id = $2", now, self.imp.id, conn=conn)
        member_ids = await db.reserve_ids("members", len(rows), conn)
        with_points = [row for row in rows if values[row.row_no].get("points")]
        entry_ids = dict(zip((row.row_no for row in with_points),
                             await db.reserve_ids("points_entries", len(with_points), conn), strict=True))
        numbers: set[str] = set()
        members, identities, accounts, entries, lots, wallet, tiers = [], [], [], [], [], [], []
        records, states, tags, timeline, imported, outcomes = [], [], [], [], [], []
        for row, mid in zip(rows, member_ids, strict=True):
            v = values[row.row_no]
            number = new_member_no()
            while number in numbers:
                number = new_member_no()
            numbers.add(number)
            phone, store_id, ref, reason = v["phone"], v.get("store_id"), self.ref(row), self.reason(row)
            registered = datetime.fromisoformat(v["registered_at"]) if v.get("registered_at") else now
            members.append((mid, number, "active", self.pii.encrypt(phone), phone[-4:], phone[:3], v.get("name"),
                            v.get("gender") or "unknown",
                            datetime.fromisoformat(v["birthday"]).date() if v.get("birthday") else None,
                            v.get("email"), json.dumps(v.get("custom") or {}, ensure_ascii=False), new_referral_code(),
                            channel, store_id, registered, now, now))
            identities += [(mid, "phone", "", row.phone_index, now), (mid, "card", "", number, now)]
            if v.get("email"):
                identities.append((mid, "email", "", v["email"], now))
            if v.get("legacy_no"):
                identities.append((mid, "legacy", "", v["legacy_no"], now))
            points, principal, bonus = v.get("points", 0), v.get("principal_cents", 0), v.get("bonus_cents", 0)
            tier = v.get("tier")
            accounts.append((mid, points, 0, principal, bonus, tier, now if tier else None, 0, 0, now))
            if points:
                entry_id = entry_ids[row.row_no]
                entries.append((entry_id, mid, "import", points, 0, points, reason, "import", channel, store_id, ref,
                                now))
                lots.append((mid, points, points, self.expiry(v, now), entry_id, now))
            if principal or bonus:
                wallet.append((mid, "import", principal, bonus, principal, bonus, reason, channel, store_id, ref, now))
            if tier:
                tiers.append((mid, None, tier, "import", 0, now))
            for consent in v.get("consents", []):
                at = datetime.fromisoformat(consent["at"]) if consent.get("at") else registered
                key = (mid, consent["channel"], consent["purpose"], consent["granted"], consent["source"], None, at)
                records.append(key)
                states.append(key)
            for tag_id in await self.tag_ids(conn, v.get("tags", [])):
                tags.append((mid, tag_id, "manual", now))
            timeline.append((mid, {"member_no": number, "referrer_id": None, "import_id": self.imp.id}))
            imported.append((mid, {"import_id": self.imp.id, "row_no": row.row_no, "created": True}))
            outcomes.append((row.id, mid))
        await db.copy_rows("members", MEMBER_COLUMNS, members, conn)
        await db.copy_rows("member_identities", ("member_id", "kind", "app_id", "value", "created_at"), identities,
                           conn)
        await db.copy_rows("loyalty_accounts", ACCOUNT_COLUMNS, accounts, conn)
        await db.copy_rows("points_entries", ENTRY_COLUMNS, entries, conn)
        await db.copy_rows("points_lots", ("member_id", "earned", "remaining", "expires_at", "entry_id", "created_at"),
                           lots, conn)
        await db.copy_rows("wallet_entries", WALLET_COLUMNS, wallet, conn)
        await db.copy_rows("tier_changes", ("member_id", "from_code", "to_code", "reason", "measure", "created_at"),
                           tiers, conn)
        await db.copy_rows("consent_records", (*CONSENT_COLUMNS, "created_at"), records, conn)
        await db.copy_rows("member_consents", (*CONSENT_COLUMNS, "updated_at"), states, conn)
        await db.copy_rows("member_tags", ("member_id", "tag_id", "source", "created_at"), tags, conn)
        await events.append_many(timeline, type="registered", channel=channel, using_db=conn)
        await events.append_many(imported, type="imported", channel=channel, using_db=conn)
        await _mark_rows(conn, outcomes, "created", now)

    async def join(self, conn: BaseDBAsyncClient, row: MemberImportRow, v: dict[str, Any], member_id: int) -> None:
        """The phone is a member already: add to it, overwrite nothing; what was added is kept for undo."""
        now = clock.now()
        member = await Member.filter(id=member_id).using_db(conn).select_for_update().first()
        if member is None or member.status != "active":
            raise LookupError("该手机号的会员已注销或被合并")
        before: dict[str, Any] = {"filled": {}, "custom_added": [], "consents_added": [], "identities_added": [],
                                  "tags_added": [], "tier": None}
        changes: dict[str, Any] = {}
        for name, key in (("nickname", "name"), ("birthday", "birthday"), ("email", "email")):
            if v.get(key) and getattr(member, name) in (None, ""):
                changes[name] = datetime.fromisoformat(v[key]).date() if name == "birthday" else v[key]
        if v.get("gender") and v["gender"] != "unknown" and member.gender == "unknown":
            changes["gender"] = v["gender"]
        custom = {k: value for k, value in (v.get("custom") or {}).items() if k not in (member.custom_fields or {})}
        if custom:
            changes["custom_fields"] = {**(member.custom_fields or {}), **custom}
            before["custom_added"] = sorted(custom)
        before["filled"] = sorted(name for name in changes if name != "custom_fields")
        if "email" in changes:
            await MemberIdentity.create(member_id=member_id, kind="email", value=changes["email"], created_at=now,
                                        using_db=conn)
            before["identities_added"].append("email")
        if v.get("legacy_no") and not await MemberIdentity.filter(member_id=member_id, kind="legacy").using_db(
                conn).exists():
            await MemberIdentity.create(member_id=member_id, kind="legacy", value=v["legacy_no"], created_at=now,
                                        using_db=conn)
            before["identities_added"].append("legacy")
        if changes:
            await Member.filter(id=member_id).using_db(conn).update(**changes, updated_at=now)
        assets = await Assets.open(conn, member_id)
        ctx = Context(source="import", reason=self.reason(row), channel=self.imp.channel, store_id=v.get("store_id"))
        if v.get("points"):
            await assets.credit(v["points"], kind="import", ctx=ctx, ref=self.ref(row), expires_at=self.expiry(v, now))
        if v.get("principal_cents") or v.get("bonus_cents"):
            await assets.wallet_credit(principal=v.get("principal_cents", 0), bonus=v.get("bonus_cents", 0),
                                       kind="import", ctx=ctx, ref=self.ref(row))
        account = assets.account
        if v.get("tier") and self.program.rank(v["tier"]) > self.program.rank(account.tier_code):
            before["tier"] = {"code": account.tier_code,
                              "since": account.tier_since.isoformat() if account.tier_since else None}
            await TierChange.create(member_id=member_id, from_code=account.tier_code, to_code=v["tier"],
                                    reason="import", created_at=now, using_db=conn)
            account.tier_code, account.tier_since = v["tier"], now
        await assets.save()
        current = {(c.channel, c.purpose) for c in await MemberConsent.filter(member_id=member_id).using_db(conn)}
        for consent in v.get("consents", []):
            key = (consent["channel"], consent["purpose"])
            if key in current:
                continue  # the member's own state here wins over the old system's
            at = datetime.fromisoformat(consent["at"]) if consent.get("at") else now
            await ConsentRecord.create(member_id=member_id, channel=key[0], purpose=key[1], granted=consent["granted"],
                                       source=consent["source"], created_at=at, using_db=conn)
            await MemberConsent.create(member_id=member_id, channel=key[0], purpose=key[1], granted=consent["granted"],
                                       source=consent["source"], updated_at=at, using_db=conn)
            before["consents_added"].append(list(key))
        tag_ids = await self.tag_ids(conn, v.get("tags", []))
        if tag_ids:
            had = set(await MemberTag.filter(member_id=member_id, tag_id__in=tag_ids).using_db(conn).values_list(
                "tag_id", flat=True))
            new = [tag_id for tag_id in tag_ids if tag_id not in had]
            if new:
                await MemberTag.bulk_create([MemberTag(member_id=member_id, tag_id=tag_id, source="manual",
                                                       created_at=now) for tag_id in new], using_db=conn)
            before["tags_added"] = new
        await events.append(member_id=member_id, type="imported", channel=self.imp.channel,
                            payload={"import_id": self.imp.id, "row_no": row.row_no, "created": False}, using_db=conn)
        await MemberImportRow.filter(id=row.id).using_db(conn).update(
            status="joined", member_id=member_id, before_enc=self.pii.encrypt(json.dumps(before)), updated_at=now)


# --- reading ---

async def get(import_id: int) -> MemberImport:
    imp = await MemberImport.get_or_none(id=import_id)
    if imp is None:
        raise ImportNotFound(details={"import_id": import_id})
    return imp


async def last_row_no(import_id: int) -> int:
    row = await MemberImportRow.filter(import_id=import_id).order_by("-row_no").first()
    return row.row_no if row else 0


async def error_report(import_id: int) -> str:
    """The dry run's problems and the run's failures as CSV (UTF-8 with BOM for Excel): row, column, reason."""
    await get(import_id)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["行号", "列", "原因"])
    rows = await MemberImportRow.filter(import_id=import_id, status__in=["invalid", "failed"]).order_by(
        "row_no").values_list("row_no", "errors", "outcome")
    for row_no, errors, outcome in rows:
        problems = errors if isinstance(errors, list) else json.loads(errors or "[]")
        for problem in problems:
            writer.writerow([row_no, problem.get("column", ""), problem.get("reason", "")])
        if outcome:
            writer.writerow([row_no, "", outcome])
    return out.getvalue()


async def problems(import_id: int, limit: int = 100) -> list[dict[str, Any]]:
    rows = await MemberImportRow.filter(import_id=import_id, status__in=["invalid", "failed"]).order_by(
        "row_no").limit(limit).values_list("row_no", "errors", "outcome")
    out = []
    for row_no, errors, outcome in rows:
        found = errors if isinstance(errors, list) else json.loads(errors or "[]")
        out += [{"row_no": row_no, "column": p.get("column", ""), "reason": p.get("reason", "")} for p in found]
        if outcome:
            out.append({"row_no": row_no, "column": "", "reason": outcome})
    return out[:limit]


# --- undo ---

_TOUCHED = ("SELECT r.member_id FROM member_import_rows r WHERE r.import_id = $1 AND r.status IN ('created', 'joined') "
            "AND EXISTS (SELECT 1 FROM member_events e WHERE e.member_id = r.member_id AND e.id > "
            "(SELECT MAX(i.id) FROM member_events i WHERE i.member_id = r.member_id AND i.type = 'imported')) "
            "ORDER BY r.member_id LIMIT 20")


async def undo(*, import_id: int, actor: audit.Actor, pii: PiiCipher) -> MemberImport:
    """Take the whole import back, or nothing when any of its members changed since."""
    imp = await get(import_id)
    if imp.status not in ("completed", "failed"):
        raise ImportState(details={"status": imp.status})
    now = clock.now()
    if not await MemberImport.filter(id=import_id, status=imp.status).update(status="undoing", updated_at=now):
        raise ImportState(details={"status": (await get(import_id)).status})
    try:
        async with in_transaction() as conn:
            rows = list(await MemberImportRow.filter(import_id=import_id, status__in=["created", "joined"]).using_db(
                conn).order_by("member_id"))
            for row in rows:  # member rows, then accounts, in member order: the lock order of every writer
                await Member.filter(id=row.member_id).using_db(conn).select_for_update().first()
                await db.fetch("UPDATE loyalty_accounts SET version = version + 1 WHERE member_id = $1",
                               row.member_id, conn=conn)
            touched = [int(r["member_id"]) for r in await db.fetch(_TOUCHED, import_id, conn=conn)]
            if touched:
                raise ImportMembersChanged(details={"member_ids": touched})
            lowest = (await loyalty_program.load()).tiers[0].code
            for row in rows:
                await _undo_row(conn, imp, row, pii, now, lowest)
            await MemberImportRow.filter(import_id=import_id, status__in=["created", "joined"]).using_db(conn).update(
                status="undone", updated_at=now)
            await MemberImport.filter(id=import_id).using_db(conn).update(status="undone", undone_at=now,
                                                                          updated_at=now)
            await audit.record(actor=actor, action="import.undo", target_type="member_import", target_id=import_id,
                               after={"members": len(rows)}, using_db=conn)
    except BaseException:
        await MemberImport.filter(id=import_id, status="undoing").update(status=imp.status, updated_at=clock.now())
        raise
    return await get(import_id)


async def _undo_row(conn: BaseDBAsyncClient, imp: MemberImport, row: MemberImportRow, pii: PiiCipher,
                    now: datetime, lowest: str) -> None:
    member_id = int(row.member_id or 0)
    ref = f"import:{imp.id}:{row.row_no}"
    ctx = Context(source="import", reason=f"撤销导入「{imp.filename}」第 {row.row_no} 行"[:200], channel=imp.channel)
    assets = await Assets.open(conn, member_id)
    points = await PointsEntry.filter(member_id=member_id, ref=ref).using_db(conn).first()
    if points is not None:
        lot = await PointsLot.filter(entry_id=points.id).using_db(conn).first()
        taken = lot.remaining if lot else 0
        if taken:
            await assets._entry(kind="import_undo", points=-taken, ctx=ctx, ref=f"{ref}:undo")
            await PointsLot.filter(id=lot.id).using_db(conn).update(remaining=0)  # type: ignore[union-attr]
    stored = await WalletEntry.filter(member_id=member_id, ref=ref).using_db(conn).first()
    if stored is not None:
        await assets._wallet(kind="import_undo", principal=-stored.principal_cents, bonus=-stored.bonus_cents,
                             ctx=ctx, ref=f"{ref}:undo")
    before = json.loads(pii.decrypt(row.before_enc)) if row.before_enc else {}
    if row.status == "created":
        assets.account.tier_code, assets.account.tier_since = None, None
    elif before.get("tier"):
        since = before["tier"]["since"]
        await TierChange.create(member_id=member_id, from_code=assets.account.tier_code,
                                to_code=before["tier"]["code"] or lowest, reason="import_undo", created_at=now,
                                using_db=conn)
        assets.account.tier_code = before["tier"]["code"]
        assets.account.tier_since = datetime.fromisoformat(since) if since else None
    await assets.save()
    if row.status == "created":
        for state in await MemberConsent.filter(member_id=member_id, granted=True).using_db(conn):
            await ConsentRecord.create(member_id=member_id, channel=state.channel, purpose=state.purpose, granted=False,
                                       source=UNDO_SOURCE, created_at=now, using_db=conn)
        await MemberConsent.filter(member_id=member_id).using_db(conn).update(granted=False, source=UNDO_SOURCE,
                                                                             updated_at=now)
        await Member.filter(id=member_id).using_db(conn).update(status="deleted", deleted_at=now)
        await erasure.erase(conn, member_id=member_id, pii=pii, now=now)
        await events.append(member_id=member_id, type="import_undone", payload={"import_id": imp.id, "deleted": True},
                            using_db=conn)
        return
    member = await Member.get(id=member_id).using_db(conn)
    changes: dict[str, Any] = {name: None for name in before.get("filled", []) if name != "gender"}
    if "gender" in before.get("filled", []):
        changes["gender"] = "unknown"
    if before.get("custom_added"):
        changes["custom_fields"] = {k: v for k, v in (member.custom_fields or {}).items()
                                    if k not in before["custom_added"]}
    if changes:
        await Member.filter(id=member_id).using_db(conn).update(**changes, updated_at=now)
    for kind in before.get("identities_added", []):
        await MemberIdentity.filter(member_id=member_id, kind=kind).using_db(conn).delete()
    for channel, purpose in before.get("consents_added", []):
        await ConsentRecord.create(member_id=member_id, channel=channel, purpose=purpose, granted=False,
                                   source=UNDO_SOURCE, created_at=now, using_db=conn)
        await MemberConsent.filter(member_id=member_id, channel=channel, purpose=purpose).using_db(conn).delete()
    if before.get("tags_added"):
        await MemberTag.filter(member_id=member_id, tag_id__in=before["tags_added"]).using_db(conn).delete()
    await events.append(member_id=member_id, type="import_undone", payload={"import_id": imp.id, "deleted": False},
                        using_db=conn)


def _iso(value: Any) -> str | None:
    moment = db.to_datetime(value)
    return moment.isoformat() if moment else None


def view(imp: MemberImport) -> dict[str, Any]:
    return {
        "id": imp.id, "filename": imp.filename, "format": imp.format, "encoding": imp.encoding,
        "status": imp.status, "channel": imp.channel, "skip_invalid": imp.skip_invalid,
        "rows_total": imp.rows_total, "rows_valid": imp.rows_valid, "rows_invalid": imp.rows_invalid,
        "totals": imp.totals or {}, "counts": imp.counts or {}, "error": imp.error,
        **{name: _iso(getattr(imp, name)) for name in ("created_at", "started_at", "finished_at", "undone_at")},
    }


