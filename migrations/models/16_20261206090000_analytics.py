from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

# Daily aggregate tables for the analytics (backend.analytics): one row per merchant day and dimension values,
# rebuilt whole per day by the analytics job (maintenance:analytics) or ``python -m backend analytics-rebuild``.
# They start empty: the first run of the job builds every day since the first member registered. The indexes on
# the base tables let the rebuild of one day read that day's rows only (each is a range on a time column).

_DIMS = """
    "store_id" INT NOT NULL DEFAULT 0,
    "channel" VARCHAR(16) NOT NULL DEFAULT '',
    "tier" VARCHAR(20) NOT NULL DEFAULT '',"""


def _table(name: str, columns: list[str], unique: str = '"day", "store_id", "channel", "tier"',
           dims: str = _DIMS) -> str:
    body = ",\n".join(f'    "{column}" BIGINT NOT NULL DEFAULT 0' for column in columns)
    return f"""
CREATE TABLE IF NOT EXISTS "{name}" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "day" DATE NOT NULL,{dims}
{body},
    CONSTRAINT "uid_{name}_day" UNIQUE ({unique})
);"""


TABLES = [
    ("analytics_member_days", ["new_members", "upgrades", "downgrades"]),
    ("analytics_sales_days", ["orders", "buyers", "gmv_cents", "discount_cents", "points_orders",
                              "points_value_cents", "balance_orders", "balance_cents", "coupon_orders",
                              "coupon_gmv_cents", "refunds", "refund_cents"]),
    ("analytics_points_days", ["issued", "spent", "expired", "reversed", "restored", "adjusted_out", "net"]),
    ("analytics_wallet_days", ["topups", "topup_principal_cents", "topup_bonus_cents", "spend_principal_cents",
                               "spend_bonus_cents", "refund_principal_cents", "refund_bonus_cents",
                               "net_principal_cents", "net_bonus_cents"]),
]
COUPON_COLUMNS = ["issued", "issued_claim", "issued_admin", "issued_mall", "issued_reward", "issued_other",
                  "redeemed", "discount_cents", "order_gmv_cents", "expired"]
MESSAGE_COLUMNS = ["queued", "sent", "delivered", "failed", "no_consent", "capped", "quiet_hours", "expired",
                   "cancelled", "pending", "unsubscribes"]
BASE_INDEXES = (
    # Covering: the window figures (buyers, repurchase) read the orders of a window from the index alone.
    ("idx_orders_placed_at", "orders", '"placed_at") INCLUDE ("member_id", "store_id", "channel", "status"'),
    ("idx_orders_created_at", "orders", '"created_at"'),
    ("idx_refunds_created_at", "order_refunds", '"created_at"'),
    ("idx_points_entries_created_at", "points_entries", '"created_at"'),
    ("idx_wallet_entries_created_at", "wallet_entries", '"created_at"'),
    ("idx_coupons_issued_at", "coupons", '"issued_at"'),
    ("idx_redemptions_created_at", "coupon_redemptions", '"created_at"'),
    ("idx_redemptions_reversed_at", "coupon_redemptions", '"reversed_at"'),
    ("idx_messages_created_at", "messages", '"created_at"'),
    ("idx_messages_updated_at", "messages", '"updated_at"'),
    ("idx_members_registered_at", "members", '"registered_at"'),
    ("idx_tier_changes_member_at", "tier_changes", '"member_id", "created_at"'),
    ("idx_tier_changes_created_at", "tier_changes", '"created_at"'),
    ("idx_consent_records_created_at", "consent_records", '"created_at"'),
)


async def upgrade(db: BaseDBAsyncClient) -> str:
    parts = ["""
CREATE TABLE IF NOT EXISTS "analytics_days" (
    "day" DATE NOT NULL PRIMARY KEY,
    "built_at" TIMESTAMPTZ NOT NULL,
    "rows" INT NOT NULL DEFAULT 0
);
COMMENT ON TABLE "analytics_days" IS 'A merchant day whose analytics rows are built: when, and how many rows.';"""]
    parts += [_table(name, columns) for name, columns in TABLES]
    parts.append(_table("analytics_coupon_days", COUPON_COLUMNS,
                        unique='"day", "template_id", "store_id", "channel", "tier"',
                        dims='\n    "template_id" BIGINT NOT NULL,' + _DIMS))
    parts.append(_table("analytics_message_days", MESSAGE_COLUMNS, unique='"day", "channel", "purpose"',
                        dims="""
    "channel" VARCHAR(8) NOT NULL DEFAULT '',
    "purpose" VARCHAR(12) NOT NULL DEFAULT '',"""))
    parts += [f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns});' for name, table, columns in BASE_INDEXES]
    return "\n".join(parts)


async def downgrade(db: BaseDBAsyncClient) -> str:
    tables = ["analytics_days", *(name for name, _ in TABLES), "analytics_coupon_days", "analytics_message_days"]
    return "\n".join([*(f'DROP INDEX IF EXISTS "{name}";' for name, _, _ in BASE_INDEXES),
                      *(f'DROP TABLE IF EXISTS "{table}";' for table in tables)])
