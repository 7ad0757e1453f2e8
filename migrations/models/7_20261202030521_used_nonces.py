from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "used_nonces" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "app_key" VARCHAR(40) NOT NULL,
    "nonce" VARCHAR(64) NOT NULL,
    "signed_at" TIMESTAMPTZ NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_used_nonces_app_key_da486c" UNIQUE ("app_key", "nonce")
);
CREATE INDEX IF NOT EXISTS "idx_used_nonces_signed__30a62d" ON "used_nonces" ("signed_at");
COMMENT ON TABLE "used_nonces" IS 'A nonce an integration key signed a request with; refused again while the request could pass.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "used_nonces";"""
