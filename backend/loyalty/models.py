"""Points ledger and lots, stored-value wallet, tier history, orders and refunds.

Every change to a balance is a ledger row written in the same transaction as the balance it changes.
The account row is the member's lock: every writer updates it first (``accounts.lock``), so on
PostgreSQL all changes to one member's assets are serialised by its row lock, and on SQLite by the
database's single writer.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class LoyaltyAccount(Model):
    """One member's balances: always the sums of their ledgers (and of the live lots, for points)."""

    member_id = fields.BigIntField(primary_key=True, generated=False)
    points_balance = fields.BigIntField(default=0)
    points_debt = fields.BigIntField(default=0)  # clawed-back points the balance could not cover
    principal_cents = fields.BigIntField(default=0)
    bonus_cents = fields.BigIntField(default=0)
    tier_code = fields.CharField(max_length=20, null=True)  # null: the lowest tier
    tier_since = fields.DatetimeField(null=True)
    tier_measure = fields.BigIntField(default=0)  # the qualifying measure at the last order or refund
    version = fields.BigIntField(default=0)  # bumped by every writer: the row lock
    updated_at = fields.DatetimeField()

    class Meta:
        table = "loyalty_accounts"


class PointsEntry(Model):
    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    # earn | spend | expire | adjust | refund_reversal | refund_restore | debt_repay | bonus | transfer_in/out
    kind = fields.CharField(max_length=16)
    points = fields.BigIntField()  # signed change of the balance
    debt_delta = fields.BigIntField(default=0)  # signed change of the points debt
    balance_after = fields.BigIntField()
    reason = fields.CharField(max_length=200, default="")
    source = fields.CharField(max_length=12)  # order | campaign | staff | system
    channel = fields.CharField(max_length=16, null=True)
    store_id = fields.IntField(null=True)
    order_id = fields.BigIntField(null=True, db_index=True)
    ref = fields.CharField(max_length=120, null=True)  # idempotency: one entry per (member, ref)
    created_at = fields.DatetimeField()

    class Meta:
        table = "points_entries"
        unique_together = (("member_id", "ref"),)
        indexes = (("member_id", "id"),)


class PointsLot(Model):
    """Points earned together, with one expiry; spending takes from the first to expire."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    earned = fields.BigIntField()
    remaining = fields.BigIntField()
    expires_at = fields.DatetimeField(null=True)  # null: never
    entry_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "points_lots"
        indexes = (("member_id", "remaining"), ("expires_at", "remaining"))


class PointsLotUse(Model):
    """Which lots a debit took from, so a refund puts spent points back where they came from."""

    id = fields.BigIntField(primary_key=True)
    entry_id = fields.BigIntField(db_index=True)
    lot_id = fields.BigIntField()
    points = fields.BigIntField()

    class Meta:
        table = "points_lot_uses"


class WalletEntry(Model):
    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    kind = fields.CharField(max_length=16)  # topup | spend | refund | transfer_in | transfer_out
    principal_cents = fields.BigIntField()  # signed
    bonus_cents = fields.BigIntField()  # signed
    principal_after = fields.BigIntField()
    bonus_after = fields.BigIntField()
    reason = fields.CharField(max_length=200, default="")
    channel = fields.CharField(max_length=16, null=True)
    store_id = fields.IntField(null=True)
    order_id = fields.BigIntField(null=True, db_index=True)
    payment_ref = fields.CharField(max_length=64, null=True)
    ref = fields.CharField(max_length=120, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "wallet_entries"
        unique_together = (("member_id", "ref"),)
        indexes = (("member_id", "id"),)


class Topup(Model):
    id = fields.BigIntField(primary_key=True)
    payment_ref = fields.CharField(max_length=64, unique=True)  # one top-up per payment
    member_id = fields.BigIntField(db_index=True)
    store_id = fields.IntField(null=True)
    amount_cents = fields.BigIntField()
    bonus_cents = fields.BigIntField()
    bonus_plan = fields.CharField(max_length=20, null=True)  # the code of the top-up plan whose bonus it got
    receipt = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()

    class Meta:
        table = "wallet_topups"
        indexes = (("member_id", "bonus_plan"),)


class TierChange(Model):
    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField(db_index=True)
    from_code = fields.CharField(max_length=20, null=True)
    to_code = fields.CharField(max_length=20)
    reason = fields.CharField(max_length=16)  # upgrade | downgrade | merge | admin
    measure = fields.BigIntField(default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "tier_changes"


class TierGift(Model):
    """A tier's gift pack, granted once per member, tier and period (calendar year)."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    tier_code = fields.CharField(max_length=20)
    period = fields.CharField(max_length=8)
    points = fields.BigIntField(default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "tier_gifts"
        unique_together = (("member_id", "tier_code", "period"),)


class Order(Model):
    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    order_no = fields.CharField(max_length=64)
    member_id = fields.BigIntField(null=True, db_index=True)
    store_id = fields.IntField(null=True)
    app_key_id = fields.IntField(null=True)  # the integration key that pushed it; null for counter orders
    request_hash = fields.CharField(max_length=64)
    amount_cents = fields.BigIntField()
    discount_cents = fields.BigIntField(default=0)
    points_spent = fields.BigIntField(default=0)
    points_value_cents = fields.BigIntField(default=0)
    principal_spent_cents = fields.BigIntField(default=0)
    bonus_spent_cents = fields.BigIntField(default=0)
    earn_base_cents = fields.BigIntField(default=0)
    points_earned = fields.BigIntField(default=0)
    refunded_cents = fields.BigIntField(default=0)
    points_reversed = fields.BigIntField(default=0)
    points_restored = fields.BigIntField(default=0)
    principal_restored_cents = fields.BigIntField(default=0)
    bonus_restored_cents = fields.BigIntField(default=0)
    status = fields.CharField(max_length=20, default="placed")  # placed | partially_refunded | refunded
    items = fields.JSONField(default=list)
    receipt = fields.JSONField(default=dict)
    placed_at = fields.DatetimeField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "orders"
        unique_together = (("channel", "order_no"),)
        indexes = (("member_id", "placed_at"),)


class MemberOrderStats(Model):
    """A member's order figures, changed with each order, refund and merge in the same transaction
    (``backend.loyalty.order_stats``): what segment rules and tags read instead of the member's orders
    when a condition is about all of them. Orders refunded in full do not count; amounts are net of refunds.
    """

    member_id = fields.BigIntField(primary_key=True, generated=False)
    order_count = fields.IntField(default=0)  # orders not refunded in full
    amount_cents = fields.BigIntField(default=0)  # their amounts net of refunds
    first_order_at = fields.DatetimeField(null=True)  # when the first and the last of them were placed
    last_order_at = fields.DatetimeField(null=True)  # null: no such order

    class Meta:
        table = "member_order_stats"


class Refund(Model):
    id = fields.BigIntField(primary_key=True)
    order_id = fields.BigIntField(db_index=True)
    refund_no = fields.CharField(max_length=64, null=True)
    amount_cents = fields.BigIntField()
    reason = fields.CharField(max_length=200, default="")
    points_reversed = fields.BigIntField(default=0)
    points_clawed_back = fields.BigIntField(default=0)
    debt_added = fields.BigIntField(default=0)
    points_restored = fields.BigIntField(default=0)
    principal_restored_cents = fields.BigIntField(default=0)
    bonus_restored_cents = fields.BigIntField(default=0)
    receipt = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()

    class Meta:
        table = "order_refunds"
        unique_together = (("order_id", "refund_no"),)


class LoyaltyProgram(Model):
    """The merchant's loyalty rules (tiers, earn rules, expiry, bonuses) as one validated document."""

    id = fields.IntField(primary_key=True, generated=False)
    data = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "loyalty_program"


class CheckIn(Model):
    """A member's daily check-in: one row per member and merchant day (the unique pair is the guard)."""

    id = fields.BigIntField(primary_key=True)
    member_id = fields.BigIntField()
    day = fields.DateField()  # the merchant-time date
    streak = fields.IntField()  # days in a row, this one included
    points = fields.BigIntField(default=0)
    coupon_id = fields.BigIntField(null=True)
    coupon_name = fields.CharField(max_length=40, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "check_ins"
        unique_together = (("member_id", "day"),)


class PointsCampaign(Model):
    """A bonus-point campaign: extra points on top of the earn rule for orders it matches, within its
    time window, until its budget (if any) is spent."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=40)
    description = fields.CharField(max_length=200, default="")
    enabled = fields.BooleanField(default=True)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField(null=True)  # null: until switched off (a standing rule)
    kind = fields.CharField(max_length=12)  # multiplier | fixed
    multiplier_pct = fields.IntField(default=100)  # multiplier: 200 = double the earn rule's points
    bonus_points = fields.BigIntField(default=0)  # fixed: points per matching order
    min_paid_cents = fields.BigIntField(default=0)
    channels = fields.JSONField(default=list)  # empty: every channel
    store_ids = fields.JSONField(default=list)
    categories = fields.JSONField(default=list)
    tiers = fields.JSONField(default=list)
    segment_id = fields.IntField(null=True)
    budget_points = fields.BigIntField(null=True)  # null: no budget
    spent_points = fields.BigIntField(default=0)  # granted so far (refunds do not give budget back)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "points_campaigns"


class AssetCard(Model):
    """A member's asset view as last computed (``backend.loyalty.cards``), usable while ``card_version``
    equals ``version`` and the clock is before ``fresh_until``.

    Every write to what the view shows bumps ``version`` in its own transaction, by database triggers
    on the base tables (``SQLITE_SCHEMA`` below; the PostgreSQL ones in migration 14). The row is
    created with the member, so a reader never creates one.
    """

    member_id = fields.BigIntField(primary_key=True, generated=False)
    version = fields.BigIntField(default=0)  # bumped by every writer of the view's inputs
    card_version = fields.BigIntField(null=True)  # the version ``view`` was computed at; null: no card
    fresh_until = fields.DatetimeField(null=True)  # when time alone changes the view; null: never
    status = fields.CharField(max_length=12, null=True)  # the member's
    tier_code = fields.CharField(max_length=20, null=True)  # the account's: rendered from the program at read time
    tier_measure = fields.BigIntField(null=True)
    view = fields.TextField(null=True)  # the view without its tier, as JSON text

    class Meta:
        table = "asset_cards"


# Tables whose rows feed the asset view, each with a member_id column (members: status, by id).
CARD_SOURCES = ("loyalty_accounts", "points_lots", "coupons", "checkout_sessions")


def _sqlite_card_triggers() -> str:
    bump = "UPDATE asset_cards SET version = version + 1 WHERE member_id"
    statements = [
        "CREATE TRIGGER asset_cards_members_ins AFTER INSERT ON members BEGIN "
        "INSERT INTO asset_cards (member_id, version) VALUES (NEW.id, 0) "
        "ON CONFLICT (member_id) DO UPDATE SET version = version + 1; END;",
        "CREATE TRIGGER asset_cards_members_del AFTER DELETE ON members BEGIN "
        "DELETE FROM asset_cards WHERE member_id = OLD.id; END;",
        "CREATE TRIGGER asset_cards_members_upd AFTER UPDATE OF status ON members "
        f"WHEN OLD.status IS NOT NEW.status BEGIN {bump} = NEW.id; END;",
    ]
    for table in CARD_SOURCES:
        statements += [
            f"CREATE TRIGGER asset_cards_{table}_ins AFTER INSERT ON {table} BEGIN {bump} = NEW.member_id; END;",
            f"CREATE TRIGGER asset_cards_{table}_upd AFTER UPDATE ON {table} BEGIN "
            f"{bump} IN (OLD.member_id, NEW.member_id); END;",
            f"CREATE TRIGGER asset_cards_{table}_del AFTER DELETE ON {table} BEGIN {bump} = OLD.member_id; END;",
        ]
    names = [statement.split()[2] for statement in statements]
    # One transaction: no writer of another process runs between a DROP and its CREATE.
    return ("BEGIN IMMEDIATE;\n" + "".join(f"DROP TRIGGER IF EXISTS {name};\n" for name in names)
            + "\n".join(statements)
            + "\nINSERT OR IGNORE INTO asset_cards (member_id, version) SELECT id, 0 FROM members;\nCOMMIT;")


# Run by ``backend.db.init_db`` after the generated schema (SQLite only): what a model cannot declare.
# Mind that Tortoise counts an UPDATE or DELETE on SQLite by the connection's total changes, which include
# the card rows these triggers change: zero stays zero, but where the exact number matters, count the rows
# with RETURNING (``db.fetch``).
SQLITE_SCHEMA = _sqlite_card_triggers()
