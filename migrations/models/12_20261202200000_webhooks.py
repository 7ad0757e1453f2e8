from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "webhook_endpoints" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "url" VARCHAR(2000) NOT NULL,
    "description" VARCHAR(200) NOT NULL DEFAULT '',
    "event_types" JSONB NOT NULL,
    "enabled" BOOL NOT NULL DEFAULT True,
    "disabled_reason" VARCHAR(300),
    "disabled_at" TIMESTAMPTZ,
    "secret_enc" TEXT NOT NULL,
    "previous_secret_enc" TEXT,
    "previous_secret_until" TIMESTAMPTZ,
    "failing_since" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "webhook_endpoints" IS 'A receiver: its URL, the event types it takes (empty: all) and its signing secrets (encrypted).';
        CREATE TABLE IF NOT EXISTS "webhook_events" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "event_id" VARCHAR(40) NOT NULL UNIQUE,
    "type" VARCHAR(40) NOT NULL,
    "occurred_at" TIMESTAMPTZ NOT NULL,
    "member_id" BIGINT,
    "data" JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_webhook_eve_member__b1c2d3" ON "webhook_events" ("member_id", "id");
COMMENT ON TABLE "webhook_events" IS 'One public event, written in the transaction of the change it reports.';
        CREATE TABLE IF NOT EXISTS "webhook_deliveries" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "endpoint_id" INT NOT NULL,
    "event_pk" BIGINT NOT NULL,
    "member_id" BIGINT,
    "status" VARCHAR(10) NOT NULL DEFAULT 'pending',
    "attempts" INT NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ NOT NULL,
    "lease_until" TIMESTAMPTZ,
    "lease_token" VARCHAR(32),
    "last_status_code" INT,
    "last_error" VARCHAR(300),
    "last_response_ms" INT,
    "last_attempt_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_webhook_del_status_a1b2c3" ON "webhook_deliveries" ("status", "next_attempt_at");
CREATE INDEX IF NOT EXISTS "idx_webhook_del_endpoin_d4e5f6" ON "webhook_deliveries" ("endpoint_id", "member_id", "event_pk");
CREATE INDEX IF NOT EXISTS "idx_webhook_del_event_p_a7b8c9" ON "webhook_deliveries" ("event_pk");
CREATE INDEX IF NOT EXISTS "idx_webhook_del_endpoin_e1f2a3" ON "webhook_deliveries" ("endpoint_id", "id");
COMMENT ON TABLE "webhook_deliveries" IS 'An event on its way to one endpoint: pending → succeeded, or failed (retrying) → dead.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "webhook_deliveries";
        DROP TABLE IF EXISTS "webhook_events";
        DROP TABLE IF EXISTS "webhook_endpoints";"""
