"""Console API for the loyalty program: tiers, earn rules, the whole program, members' assets and
points adjustments, under /api/v1/admin."""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from tortoise.transactions import in_transaction

from backend import audit
from backend.errors import DomainError, ValidationFailed
from backend.http.auth import staff_required
from backend.http.common import ADMIN, CONSOLE, STAFF_AUTH_ERRORS, member_or_404, ok
from backend.http.docs import Out, endpoint
from backend.http.pagination import PageQuery, page
from backend.http.read_models import MemberAssets, OrderPage, PointsLedgerPage, WalletLedgerPage
from backend.http.validation import Body, parse_body
from backend.idempotency import idempotent
from backend.loyalty import orders, views
from backend.loyalty import program as programs
from backend.loyalty.models import Order, PointsEntry, WalletEntry
from backend.members.errors import MemberNotFound

bp = Blueprint("console_loyalty", url_prefix="/api/v1/admin")
TAG = "console"
AUTH = STAFF_AUTH_ERRORS
MEMBER = [*AUTH, "MEMBER_NOT_FOUND"]
Measure = Literal["spend", "points", "orders"]
M = TypeVar("M", bound=Body)


class TiersUpdate(Body):
    tiers: list[programs.Tier] = Field(min_length=1, max_length=programs.MAX_TIERS)


class EarnRulesUpdate(Body):
    earn_rules: list[programs.EarnRule] = Field(max_length=len(programs.EARN_CHANNELS))


class LoyaltyProgram(programs.Program):
    """The whole loyalty program as one document: what GET answers, PUT takes back (all of it)."""


class PointsAdjustmentRequest(Body):
    points: int = Field(ge=-10_000_000, le=10_000_000, description="positive to add, negative to deduct; not 0")
    reason: str = Field(min_length=2, max_length=200)


class TierSettings(Out):
    tiers: list[programs.Tier] = Field(description="lowest first")
    measure: Measure = Field(description="what qualifies: spend in yuan, points earned or orders")
    window_days: int = Field(description="the rolling window the measure is counted over")
    retention_days: int = Field(description="a tier is kept at least this long before a review lowers it")


class EarnRules(Out):
    earn_rules: list[programs.EarnRule]


class PointsAdjustment(Out):
    entry_id: int | None = Field(description="the points ledger entry written")
    points_balance: int
    points_debt: int
    balance_cents: int
    principal_cents: int
    bonus_cents: int
    tier: str = Field(description="the member's tier code")


def _tier_settings(program: programs.Program) -> dict[str, Any]:
    return {"tiers": [t.model_dump() for t in program.tiers], "measure": program.tier_measure,
            "window_days": program.tier_window_days, "retention_days": program.tier_retention_days}


def _consistency_fields(doc: Any) -> dict[str, str]:
    """The program's cross-item rules, each placed on the item that breaks it ("tiers.2.threshold",
    "tiers.1.code", "earn_rules.3.channel"), so a form can show it on that field. ``doc`` is what the
    caller sent (a whole program or one section); whatever does not have the expected shape is left to
    the model's own errors."""
    fields: dict[str, str] = {}
    if not isinstance(doc, dict):
        return fields
    tiers = doc.get("tiers")
    if isinstance(tiers, list):
        seen: set[str] = set()
        previous: int | None = None
        for index, tier in enumerate(tiers):
            if not isinstance(tier, dict):
                previous = None
                continue
            code, threshold = tier.get("code"), tier.get("threshold")
            if isinstance(code, str):
                if code in seen:
                    fields[f"tiers.{index}.code"] = "等级代码不能重复"
                seen.add(code)
            if type(threshold) is not int:
                previous = None
                continue
            if index == 0 and threshold != 0:
                fields["tiers.0.threshold"] = "第一个等级门槛应为 0"
            elif previous is not None and threshold <= previous:
                fields[f"tiers.{index}.threshold"] = f"门槛应高于上一等级（{previous}）"
            previous = threshold
    rules = doc.get("earn_rules")
    if isinstance(rules, list):
        channels: set[str] = set()
        for index, rule in enumerate(rules):
            channel = rule.get("channel") if isinstance(rule, dict) else None
            if isinstance(channel, str):
                if channel in channels:
                    fields[f"earn_rules.{index}.channel"] = "每个渠道只能有一条积分规则"
                channels.add(channel)
    return fields


def _placed(error: DomainError, raw: Any) -> DomainError:
    """``error`` with a whole-document complaint ("body", "program") replaced by the fields it is about."""
    fields = dict((error.details or {}).get("fields") or {})
    placed = _consistency_fields(raw)
    if placed and ({"body", "program"} & set(fields) or not fields):
        fields = {key: value for key, value in fields.items() if key not in ("body", "program")}
        return ValidationFailed(details={"fields": {**fields, **placed}})
    return error


def _parse(request: Request, model: type[M]) -> M:
    try:
        return parse_body(request, model)
    except ValidationFailed as exc:
        try:
            raw = json.loads(request.body or b"{}")
        except ValueError:
            raise exc from None
        raise _placed(exc, raw) from None


def _validated(data: dict[str, Any]) -> programs.Program:
    try:
        return programs.Program.model_validate(data)
    except ValidationError as exc:  # the section fits, the whole program does not (e.g. a tier per channel)
        fields = {".".join(str(p) for p in err["loc"]) or "program": err["msg"].removeprefix("Value error, ")
                  for err in exc.errors()}
        raise _placed(ValidationFailed(details={"fields": fields}), data) from None


async def _update(request: Request, section: str, change: dict[str, Any]) -> programs.Program:
    """Replace one part of the program, validated as a whole, audited with before and after."""
    async with in_transaction() as conn:
        current = await programs.load(conn, fresh=True)
        before = current.model_dump(mode="json")
        updated = _validated({**before, **change})
        await programs.save(updated, conn)
        await audit.record(actor=audit.Actor.staff(request.ctx.staff.id), action=f"loyalty.{section}",
                           target_type="loyalty_program", target_id=programs.PROGRAM_ID,
                           before={section: before.get(section)} if section != "program" else before,
                           after={section: updated.model_dump(mode="json").get(section)}
                           if section != "program" else updated.model_dump(mode="json"), using_db=conn)
    programs.forget()  # committed: nothing read before the commit stays cached
    return updated


@bp.get("/tiers")
@endpoint(summary="Tiers with thresholds and benefits, lowest first", tag=TAG, response=TierSettings, errors=AUTH,
          operation_id="getTiers")
@staff_required(*CONSOLE)
async def get_tiers(request: Request) -> HTTPResponse:
    return ok(_tier_settings(await programs.load()))


@bp.put("/tiers")
@endpoint(summary="Replace the tiers (audited); members keep their tier code until the next event or review",
          tag=TAG, body=TiersUpdate, response=TierSettings, errors=AUTH, operation_id="putTiers")
@staff_required(*ADMIN)
async def put_tiers(request: Request) -> HTTPResponse:
    body = _parse(request, TiersUpdate)
    program = await _update(request, "tiers", {"tiers": [t.model_dump() for t in body.tiers]})
    return ok(_tier_settings(program))


@bp.get("/earn-rules")
@endpoint(summary="Points earn rules per channel", tag=TAG, response=EarnRules, errors=AUTH,
          operation_id="getEarnRules")
@staff_required(*CONSOLE)
async def get_earn_rules(request: Request) -> HTTPResponse:
    program = await programs.load()
    return ok({"earn_rules": [r.model_dump() for r in program.earn_rules]})


@bp.put("/earn-rules")
@endpoint(summary="Replace the earn rules (a channel without a rule earns nothing; audited)", tag=TAG,
          body=EarnRulesUpdate, response=EarnRules, errors=AUTH, operation_id="putEarnRules")
@staff_required(*ADMIN)
async def put_earn_rules(request: Request) -> HTTPResponse:
    body = _parse(request, EarnRulesUpdate)
    program = await _update(request, "earn_rules", {"earn_rules": [r.model_dump() for r in body.earn_rules]})
    return ok({"earn_rules": [r.model_dump() for r in program.earn_rules]})


@bp.get("/loyalty-program")
@endpoint(summary="The whole loyalty program: tiers, earn rules, expiry, bonuses, top-up bonuses", tag=TAG,
          response=LoyaltyProgram, errors=AUTH, operation_id="getLoyaltyProgram")
@staff_required(*CONSOLE)
async def get_program(request: Request) -> HTTPResponse:
    return ok((await programs.load()).model_dump(mode="json"))


@bp.put("/loyalty-program")
@endpoint(summary="Replace the whole loyalty program (validated as one document; audited)", tag=TAG,
          body=LoyaltyProgram, response=LoyaltyProgram, errors=AUTH, operation_id="putLoyaltyProgram",
          description="Fields left out take their defaults: send back the whole document GET answered.")
@staff_required(*ADMIN)
async def put_program(request: Request) -> HTTPResponse:
    body = _parse(request, LoyaltyProgram)
    program = await _update(request, "program", body.model_dump(mode="json"))
    return ok(program.model_dump(mode="json"))


@bp.get("/members/<member_id:id>/assets")
@endpoint(summary="A member's points, stored value, tier and coupons", tag=TAG, response=MemberAssets,
          errors=MEMBER, operation_id="getMemberAssets")
@staff_required(*CONSOLE)
async def member_assets(request: Request, member_id: int) -> HTTPResponse:
    await member_or_404(member_id)
    view = await views.assets(member_id)
    if view is None:  # erased between the two reads
        raise MemberNotFound()
    return ok(view)


@bp.get("/members/<member_id:id>/points/ledger")
@endpoint(query=PageQuery, summary="A member's points ledger, newest first", tag=TAG, response=PointsLedgerPage,
          errors=MEMBER, operation_id="listMemberPointsLedger")
@staff_required(*CONSOLE)
async def member_points_ledger(request: Request, member_id: int) -> HTTPResponse:
    await member_or_404(member_id)
    return ok(await page(request, PointsEntry.filter(member_id=member_id), views.render_points_entry))


@bp.get("/members/<member_id:id>/balance/ledger")
@endpoint(query=PageQuery, summary="A member's stored-value ledger, newest first", tag=TAG, response=WalletLedgerPage,
          errors=MEMBER, operation_id="listMemberBalanceLedger")
@staff_required(*CONSOLE)
async def member_balance_ledger(request: Request, member_id: int) -> HTTPResponse:
    await member_or_404(member_id)
    return ok(await page(request, WalletEntry.filter(member_id=member_id), views.render_wallet_entry))


@bp.get("/members/<member_id:id>/orders")
@endpoint(query=PageQuery, summary="A member's orders from every channel, newest first", tag=TAG, response=OrderPage,
          errors=MEMBER, operation_id="listMemberOrders")
@staff_required(*CONSOLE)
async def member_orders(request: Request, member_id: int) -> HTTPResponse:
    await member_or_404(member_id)
    return ok(await page(request, Order.filter(member_id=member_id), views.render_order))


@bp.post("/members/<member_id:id>/points/adjustments")
@endpoint(summary="Add or deduct points with a mandatory reason (audited)", tag=TAG, body=PointsAdjustmentRequest,
          response=PointsAdjustment, status=201, idempotent=True, operation_id="adjustMemberPoints",
          errors=[*MEMBER, "INSUFFICIENT_POINTS", "IDEMPOTENCY_IN_FLIGHT", "IDEMPOTENCY_KEY_REUSED"])
@staff_required(*ADMIN)
@idempotent
async def adjust_points(request: Request, member_id: int) -> HTTPResponse:
    body = parse_body(request, PointsAdjustmentRequest)
    if body.points == 0:
        raise ValidationFailed(details={"fields": {"points": "调整积分不能为 0"}})
    member = await member_or_404(member_id)
    if member.status != "active":
        raise MemberNotFound()
    result = await orders.adjust_points(member_id=member_id, points=body.points, reason=body.reason,
                                        actor=audit.Actor.staff(request.ctx.staff.id),
                                        tz=request.app.ctx.settings.timezone)
    return ok(result, status=201)
