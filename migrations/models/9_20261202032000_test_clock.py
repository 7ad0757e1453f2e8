from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "test_clock" (
    "id" INT NOT NULL PRIMARY KEY,
    "offset_s" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "test_clock" IS 'The deployment''s test clock offset (one row), read by every process.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "test_clock";"""
