"""Stored-value top-ups paid with WeChat Pay in the mini-program.

1. ``start_topup``: a ``wechat_payments`` row (pending, with the bonus the program gives for the amount
   now), a JSAPI order at WeChat Pay, and the signed parameters of ``wx.requestPayment``.
2. ``settle``: what WeChat Pay says of the order (its notification, verified and decrypted, or a query):
   paid → the top-up credited under ``payment_ref = wxpay:<transaction_id>``, whose uniqueness makes it
   once however many notifications arrive or race; then the row marked paid. A crash between the two is
   repaired by the next notification or query (the credit replays, the mark is written). An answer whose
   merchant, app or amount is not the order's credits nothing and is logged.
3. ``reconcile`` (scheduled every minute): pending orders a minute old are queried (a lost notification
   costs a minute), and those past their time limit are closed at WeChat Pay, then here; refunds still
   processing after a minute are asked about (and asked for again when WeChat Pay never got them).
4. ``refund_topup``: the unspent principal of a paid top-up back through WeChat Pay, the bonus it brought
   forfeited pro rata (``forfeited_bonus``). The wallet is debited in the same transaction that records the
   refund, so the money cannot be spent while WeChat Pay works; a refund WeChat Pay refuses or closes is
   credited back (``refund_settled``).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from backend import audit, clock, db
from backend.loyalty import orders
from backend.loyalty import program as programs
from backend.loyalty.accounts import Assets, Context
from backend.members import events
from backend.members.models import WeChatAccount
from backend.membership import service as membership
from backend.membership.errors import MembershipNotRefundable, MembershipPlanNotFound
from backend.membership.models import MembershipPeriod
from backend.payments.errors import (
    PaymentGatewayUnavailable,
    PaymentNotFound,
    PaymentNotRefundable,
    PaymentRefused,
    PaymentsDisabled,
    RefundExceedsUnspent,
    WeChatAccountRequired,
)
from backend.payments.models import WeChatPayment, WeChatRefund
from backend.payments.wechatpay import Merchant, WeChatPayClient, WeChatPayError, WeChatPayUnavailable
from backend.settings import Settings

log = logging.getLogger("backend.payments")

QUERY_AFTER = timedelta(seconds=60)  # a notification normally comes within seconds
RECONCILE_BATCH = 200
_state: dict[str, Any] = {"client": None, "settings": None}


def start(settings: Settings) -> WeChatPayClient | None:
    """The WeChat Pay client of this process, when WECHATPAY_MCHID is set."""
    _state["settings"] = settings
    if not settings.wechatpay_mchid:
        _state["client"] = None
        return None
    merchant = Merchant.from_pem(
        mchid=settings.wechatpay_mchid, appid=settings.wechat_app_id, serial_no=settings.wechatpay_serial_no,
        private_key_pem=settings.wechatpay_private_key, apiv3_key=settings.wechatpay_apiv3_key,
        platform_serial=settings.wechatpay_platform_serial, platform_key_pem=settings.wechatpay_platform_key,
        api_base=settings.wechatpay_api_base)
    _state["client"] = WeChatPayClient(merchant)
    return _state["client"]


async def stop() -> None:
    gateway, _state["client"] = _state["client"], None
    if gateway is not None:
        await gateway.close_client()


def client() -> WeChatPayClient:
    gateway = _state["client"]
    if gateway is None:
        raise PaymentsDisabled()
    return gateway


def enabled() -> bool:
    return _state["client"] is not None


def _settings() -> Settings:
    settings = _state["settings"]
    assert settings is not None, "payments.start(settings) runs at app start"
    return settings


def view(row: WeChatPayment, payment: dict[str, str] | None = None) -> dict[str, Any]:
    return {"out_trade_no": row.out_trade_no, "kind": row.kind, "status": row.status,
            "amount_cents": row.amount_cents, "bonus_cents": row.bonus_cents,
            "expires_at": row.expires_at.isoformat(), "paid_at": row.paid_at.isoformat() if row.paid_at else None,
            "payment": payment}


async def start_topup(*, member_id: int, amount_cents: int) -> dict[str, Any]:
    """A pending top-up and what ``wx.requestPayment`` needs to pay it."""
    program = await programs.load()
    # The bonus shown is the best plan the member has not used up; the credit checks the limit again, under the lock.
    used = await orders.topup_plans_used(member_id, program)
    plan = program.topup_choice(amount_cents, "online", clock.now(), used)
    return await _start(member_id=member_id, kind="topup", prefix="TU", amount_cents=amount_cents,
                        bonus_cents=plan.bonus_cents if plan else 0, description="储值充值",
                        plan={"code": plan.code} if plan and plan.code else None)


async def start_membership(*, member_id: int, plan_code: str) -> dict[str, Any]:
    """A pending purchase of one period of a paid membership plan on sale, and what ``wx.requestPayment`` needs to
    pay it; the plan is kept on the order as it is now (a later edit never changes what was paid for)."""
    program = await programs.load()
    plan = program.membership.plan(plan_code)
    if plan is None or not plan.on_sale:
        raise MembershipPlanNotFound(details={"plan_code": plan_code})
    snapshot = {"code": plan.code, "name": plan.name, "period": plan.period, "price_cents": plan.price_cents,
                "benefits": plan.benefits()}
    return await _start(member_id=member_id, kind="membership", prefix="VM", amount_cents=plan.price_cents,
                        bonus_cents=0, description=f"付费会员-{plan.name}", plan=snapshot)


async def _start(*, member_id: int, kind: str, prefix: str, amount_cents: int, bonus_cents: int, description: str,
                 plan: dict[str, Any] | None = None) -> dict[str, Any]:
    gateway, settings = client(), _settings()
    account = await WeChatAccount.filter(member_id=member_id, app_id=settings.wechat_app_id).order_by("-id").first()
    if account is None:
        raise WeChatAccountRequired()
    now = clock.now()
    row = await WeChatPayment.create(
        out_trade_no=f"{prefix}{now.astimezone(settings.tz):%Y%m%d%H%M%S}{secrets.token_hex(5).upper()}",
        member_id=member_id, kind=kind, amount_cents=amount_cents, bonus_cents=bonus_cents, plan=plan,
        openid=account.openid, status="pending", created_at=now,
        expires_at=now + timedelta(seconds=settings.wechatpay_order_ttl_s))
    try:
        prepay_id = await gateway.jsapi_prepay(
            out_trade_no=row.out_trade_no, description=f"{settings.merchant_name}-{description}"[:127],
            amount_cents=amount_cents, openid=account.openid, notify_url=settings.wechatpay_notify_url,
            time_expire=row.expires_at.astimezone(settings.tz))
    except WeChatPayError as exc:
        if isinstance(exc, WeChatPayUnavailable) or exc.status >= 500:
            # The order may exist at WeChat Pay or not (SYSTEM_ERROR says: try again): the row stays pending,
            # and reconcile finds out, closing it once its time limit has passed.
            raise PaymentGatewayUnavailable(details={"out_trade_no": row.out_trade_no}) from None
        await _close_row(row.id, now)
        raise PaymentRefused(details={"code": exc.code, "reason": exc.message}) from None
    await WeChatPayment.filter(id=row.id).update(prepay_id=prepay_id)
    row.prepay_id = prepay_id
    return view(row, gateway.pay_params(prepay_id))


async def get(member_id: int, out_trade_no: str, kind: str = "topup") -> dict[str, Any]:
    """The member's own payment of ``kind``; a pending one is asked of WeChat Pay first."""
    row = await WeChatPayment.get_or_none(out_trade_no=out_trade_no, member_id=member_id, kind=kind)
    if row is None:
        raise PaymentNotFound()
    if row.status == "pending" and enabled():
        try:
            await settle(await client().query(out_trade_no))
        except WeChatPayError:
            pass  # still pending here; the scheduled reconcile asks again
        row = await WeChatPayment.get(id=row.id)
    return view(row)


async def settle(transaction: dict[str, Any]) -> str:
    """Apply what WeChat Pay says of an order (a notification's resource or a query's answer); the order's
    state here afterwards: paid, closed, pending, or unknown / mismatch (nothing done)."""
    settings = _settings()
    row = await WeChatPayment.get_or_none(out_trade_no=str(transaction.get("out_trade_no") or ""))
    if row is None:
        log.warning("WeChat Pay reported an order this server did not make",
                    extra={"out_trade_no": transaction.get("out_trade_no")})
        return "unknown"
    total = (transaction.get("amount") or {}).get("total")
    if (transaction.get("mchid") != settings.wechatpay_mchid or transaction.get("appid") != settings.wechat_app_id
            or total != row.amount_cents):
        log.error("WeChat Pay's order does not match ours: nothing credited",
                  extra={"out_trade_no": row.out_trade_no, "amount_cents": row.amount_cents, "reported": total})
        return "mismatch"
    state = transaction.get("trade_state")
    now = clock.now()
    if state in ("SUCCESS", "REFUND"):  # REFUND: paid, then (partly) refunded
        transaction_id = str(transaction["transaction_id"])
        topup_id, bonus = None, 0
        if row.kind == "membership":
            # One period per transaction id, however many notifications and queries race here.
            await membership.grant(member_id=row.member_id, plan=row.plan, payment_ref=f"wxpay:{transaction_id}",
                                   payment_id=row.id, tz=settings.timezone)
        else:
            outcome = await orders.topup(member_id=row.member_id, amount_cents=row.amount_cents,
                                         payment_ref=f"wxpay:{transaction_id}", store_id=None, channel="miniprogram",
                                         tz=settings.timezone, bonus_cents=row.bonus_cents,
                                         bonus_plan=(row.plan or {}).get("code"))
            topup_id = outcome.receipt.get("topup_id")
            bonus = int(outcome.receipt.get("bonus_cents", row.bonus_cents))
        # The bonus credited (a limited plan used up meanwhile gives the next best): what a refund takes back from.
        await db.fetch("UPDATE wechat_payments SET status = 'paid', transaction_id = $2, paid_at = $3, topup_id = $4, "
                       "bonus_cents = $5 WHERE id = $1 AND status <> 'paid'", row.id, transaction_id, now, topup_id,
                       bonus)
        return "paid"
    if state in ("CLOSED", "REVOKED", "PAYERROR"):
        await _close_row(row.id, now)
        return "closed" if row.status != "paid" else "paid"
    return row.status  # NOTPAY, USERPAYING: nothing yet


async def _close_row(payment_id: int, now: datetime) -> None:
    await db.fetch("UPDATE wechat_payments SET status = 'closed', closed_at = $2 WHERE id = $1 AND status = 'pending'",
                   payment_id, now)


async def reconcile(now: datetime | None = None) -> dict[str, int]:
    """Ask WeChat Pay about the pending orders a minute old; close those past their time limit; settle the
    refunds still processing."""
    if not enabled():
        return {"queried": 0, "paid": 0, "closed": 0, "refunds": 0}
    gateway, now = client(), now or clock.now()
    counts = {"queried": 0, "paid": 0, "closed": 0, "refunds": await _reconcile_refunds(gateway, now)}
    due = await WeChatPayment.filter(status="pending", created_at__lte=now - QUERY_AFTER).order_by("id").limit(
        RECONCILE_BATCH)
    for row in due:
        counts["queried"] += 1
        try:
            state = await settle(await gateway.query(row.out_trade_no))
        except WeChatPayUnavailable:
            break  # the next run tries again
        except WeChatPayError as exc:
            if exc.code != "ORDER_NOT_EXIST":
                log.warning("WeChat Pay query failed", extra={"out_trade_no": row.out_trade_no, "code": exc.code})
                continue
            state = "missing"  # the prepay never reached WeChat Pay
        if state == "paid":
            counts["paid"] += 1
        elif state in ("pending", "missing") and now >= row.expires_at:
            if state == "pending":
                try:
                    await gateway.close(row.out_trade_no)
                except WeChatPayError as exc:
                    if exc.code == "ORDERPAID":  # paid at the last moment: credit it
                        if await settle(await gateway.query(row.out_trade_no)) == "paid":
                            counts["paid"] += 1
                        continue
                    log.warning("WeChat Pay close failed", extra={"out_trade_no": row.out_trade_no, "code": exc.code})
                    continue
            await _close_row(row.id, now)
            counts["closed"] += 1
        elif state == "closed":
            counts["closed"] += 1
    return counts


# -- refunds ----------------------------------------------------------------------------------------------

def forfeited_bonus(*, bonus_cents: int, amount_cents: int, refund_cents: int) -> int:
    """The bonus a refund of ``refund_cents`` of a top-up's ``amount_cents`` principal takes back: its share
    of the top-up's bonus, rounded up (a refund never leaves the shopper a bonus fraction they did not pay
    for)."""
    return -(-bonus_cents * refund_cents // amount_cents)


def refund_view(row: WeChatRefund) -> dict[str, Any]:
    return {"out_refund_no": row.out_refund_no, "status": row.status, "principal_cents": row.principal_cents,
            "bonus_cents": row.bonus_cents, "reason": row.reason, "failure": row.failure,
            "created_at": row.created_at.isoformat(),
            "settled_at": row.settled_at.isoformat() if row.settled_at else None}


@db.retry_conflicts
async def refund_topup(*, out_trade_no: str, amount_cents: int | None, reason: str,
                       actor: audit.Actor) -> dict[str, Any]:
    """Refund ``amount_cents`` (all that is unspent when None) of a paid top-up's principal."""
    gateway, settings, now = client(), _settings(), clock.now()
    async with in_transaction() as conn:
        payment = await WeChatPayment.get_or_none(out_trade_no=out_trade_no, kind="topup").using_db(conn)
        if payment is None:
            raise PaymentNotFound()
        if payment.status != "paid":
            raise PaymentNotRefundable(details={"status": payment.status})
        assets = await Assets.open(conn, payment.member_id)  # the member's lock: refunds of one member queue
        rows = await db.fetch("SELECT COALESCE(SUM(principal_cents), 0) AS done FROM wechat_refunds "
                              "WHERE payment_id = $1 AND status <> 'failed'", payment.id, conn=conn)
        held = (await assets.held())[1]
        unspent = min(payment.amount_cents - int(rows[0]["done"]),
                      max(0, assets.account.principal_cents - held))
        wanted = unspent if amount_cents is None else amount_cents
        if wanted <= 0 or wanted > unspent:
            raise RefundExceedsUnspent(details={"refundable_cents": unspent, "requested_cents": wanted})
        bonus = min(forfeited_bonus(bonus_cents=payment.bonus_cents, amount_cents=payment.amount_cents,
                                    refund_cents=wanted), assets.account.bonus_cents)
        count = await WeChatRefund.filter(payment_id=payment.id).using_db(conn).count()
        out_refund_no = f"{payment.out_trade_no}R{count + 1}"
        refund = await WeChatRefund.create(
            payment_id=payment.id, member_id=payment.member_id, out_refund_no=out_refund_no, principal_cents=wanted,
            bonus_cents=bonus, reason=reason, status="processing", created_by=f"{actor.type}:{actor.id}", created_at=now,
            using_db=conn)
        ctx = Context(source="staff", channel="miniprogram", reason=f"微信支付退款 {reason}"[:200])
        await assets._wallet(kind="refund", principal=-wanted, bonus=-bonus, ctx=ctx, ref=f"wxrefund:{out_refund_no}")
        await assets.save()
        await events.append(member_id=payment.member_id, type="wallet_refunded", channel="miniprogram",
                            payload={"principal_cents": wanted, "bonus_cents": bonus, "out_refund_no": out_refund_no},
                            using_db=conn)
        await audit.record(actor=actor, action="wallet.refund", member_id=payment.member_id,
                           target_type="wechat_payment", target_id=out_trade_no,
                           after={"out_refund_no": out_refund_no, "principal_cents": wanted, "bonus_cents": bonus,
                                  "reason": reason}, using_db=conn)
    await _ask_refund(gateway, refund, payment, settings.wechatpay_notify_url)
    return refund_view(await WeChatRefund.get(id=refund.id))


@db.retry_conflicts
async def refund_membership(*, out_trade_no: str, reason: str, actor: audit.Actor) -> dict[str, Any]:
    """Refund a paid membership period in full within the program's cooling-off rule: the period is taken off the
    member's time in the transaction that records the refund (its benefits stop at once), then WeChat Pay is asked;
    a refund it refuses or closes gives the period back (``refund_settled``)."""
    gateway, settings, now = client(), _settings(), clock.now()
    program = await programs.load()
    async with in_transaction() as conn:
        payment = await WeChatPayment.get_or_none(out_trade_no=out_trade_no, kind="membership").using_db(conn)
        if payment is None:
            raise PaymentNotFound()
        if payment.status != "paid":
            raise PaymentNotRefundable(details={"status": payment.status})
        await membership.lock(conn, payment.member_id)  # the member's grants and refunds queue here
        period = await MembershipPeriod.get_or_none(payment_id=payment.id).using_db(conn)
        if period is None:
            raise PaymentNotRefundable(details={"status": "not_granted"})
        why = await membership.refund_check(conn, period, program.membership.refund_days, now)
        if why is not None:
            raise MembershipNotRefundable(details={"reason": why, "refund_days": program.membership.refund_days})
        ends_at = await membership.remove_period(conn, period, now)
        count = await WeChatRefund.filter(payment_id=payment.id).using_db(conn).count()
        out_refund_no = f"{payment.out_trade_no}R{count + 1}"
        refund = await WeChatRefund.create(
            payment_id=payment.id, member_id=payment.member_id, out_refund_no=out_refund_no,
            principal_cents=payment.amount_cents, bonus_cents=0, reason=reason, status="processing",
            created_by=f"{actor.type}:{actor.id}", created_at=now, using_db=conn)
        await events.append(member_id=payment.member_id, type="membership_refunded", channel="miniprogram",
                            using_db=conn,
                            payload={"period_id": period.id, "plan_code": period.plan_code,
                                     "price_cents": payment.amount_cents, "out_refund_no": out_refund_no,
                                     "ends_at": ends_at.isoformat() if ends_at else None})
        await audit.record(actor=actor, action="membership.refund", member_id=payment.member_id,
                           target_type="wechat_payment", target_id=out_trade_no,
                           after={"out_refund_no": out_refund_no, "period_id": period.id,
                                  "price_cents": payment.amount_cents, "reason": reason}, using_db=conn)
    await _ask_refund(gateway, refund, payment, settings.wechatpay_notify_url)
    return refund_view(await WeChatRefund.get(id=refund.id))


async def _ask_refund(gateway: WeChatPayClient, refund: WeChatRefund, payment: WeChatPayment, notify_url: str) -> None:
    try:
        answer = await gateway.refund(out_trade_no=payment.out_trade_no, out_refund_no=refund.out_refund_no,
                                      refund_cents=refund.principal_cents, total_cents=payment.amount_cents,
                                      reason=refund.reason, notify_url=notify_url)
    except WeChatPayError as exc:
        if isinstance(exc, WeChatPayUnavailable) or exc.status >= 500:
            return  # unknown: processing until the notification or reconcile tells
        await refund_settled({"out_refund_no": refund.out_refund_no, "status": "REFUSED"},
                             failure=f"{exc.code}: {exc.message}"[:120])
        return
    await refund_settled(answer)


async def refund_settled(resource: dict[str, Any], *, failure: str | None = None) -> str:
    """Apply what WeChat Pay says of a refund (its answer, its notification or a query): SUCCESS settles it;
    CLOSED, ABNORMAL or a refusal credits the wallet back, once. The refund's state afterwards."""
    refund = await WeChatRefund.get_or_none(out_refund_no=str(resource.get("out_refund_no") or ""))
    if refund is None:
        log.warning("WeChat Pay reported a refund this server did not ask for",
                    extra={"out_refund_no": resource.get("out_refund_no")})
        return "unknown"
    status, now = resource.get("status") or resource.get("refund_status"), clock.now()
    if status == "SUCCESS":
        await db.fetch("UPDATE wechat_refunds SET status = 'succeeded', refund_id = $2, settled_at = $3 "
                       "WHERE id = $1 AND status = 'processing'", refund.id, resource.get("refund_id"), now)
        return "succeeded"
    if status not in ("CLOSED", "ABNORMAL", "REFUSED"):
        return refund.status  # PROCESSING
    async with in_transaction() as conn:
        failed = await db.fetch("UPDATE wechat_refunds SET status = 'failed', failure = $2, settled_at = $3 "
                                "WHERE id = $1 AND status = 'processing' RETURNING id", refund.id,
                                failure or f"WeChat Pay: {status}", now, conn=conn)
        payment = await WeChatPayment.get(id=refund.payment_id).using_db(conn) if failed else None
        if payment is not None and payment.kind == "membership":  # the period given back once
            period = await MembershipPeriod.get(payment_id=payment.id).using_db(conn)
            await membership.reinstate(conn, period.id, _settings().timezone)
        elif failed:  # credited back once, whoever gets here first
            assets = await Assets.open(conn, refund.member_id)
            ctx = Context(source="staff", channel="miniprogram", reason=f"微信支付退款未成功，退回储值 {refund.reason}"[:200])
            await assets.wallet_credit(principal=refund.principal_cents, bonus=refund.bonus_cents, kind="refund",
                                       ctx=ctx, ref=f"wxrefund:{refund.out_refund_no}:back")
            await assets.save()
            await events.append(member_id=refund.member_id, type="wallet_refunded", channel="miniprogram",
                                payload={"principal_cents": -refund.principal_cents, "bonus_cents": -refund.bonus_cents,
                                         "out_refund_no": refund.out_refund_no}, using_db=conn)
    return "failed" if failed else (await WeChatRefund.get(id=refund.id)).status


async def _reconcile_refunds(gateway: WeChatPayClient, now: datetime) -> int:
    settled = 0
    due = await WeChatRefund.filter(status="processing", created_at__lte=now - QUERY_AFTER).order_by("id").limit(
        RECONCILE_BATCH)
    for refund in due:
        try:
            state = await refund_settled(await gateway.refund_status(refund.out_refund_no))
        except WeChatPayUnavailable:
            break
        except WeChatPayError as exc:
            if exc.code != "RESOURCE_NOT_EXISTS":
                continue
            payment = await WeChatPayment.get(id=refund.payment_id)  # never reached WeChat Pay: ask again
            await _ask_refund(gateway, refund, payment, _settings().wechatpay_notify_url)
            state = (await WeChatRefund.get(id=refund.id)).status
        settled += state != "processing"
    return settled
