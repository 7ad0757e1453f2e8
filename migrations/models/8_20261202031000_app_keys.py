from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "app_keys" ADD "scopes" JSONB NOT NULL DEFAULT '{"channels": ["online", "pos", "third_party"], "store_ids": null, "actions": ["orders", "refunds", "members.lookup", "members.write"]}';
        ALTER TABLE "app_keys" ALTER COLUMN "scopes" DROP DEFAULT;
        ALTER TABLE "app_keys" ADD "previous_secret_enc" TEXT;
        ALTER TABLE "app_keys" ADD "previous_secret_until" TIMESTAMPTZ;
        ALTER TABLE "app_keys" ADD "rotated_at" TIMESTAMPTZ;
        ALTER TABLE "app_keys" ADD "revoked_at" TIMESTAMPTZ;
        ALTER TABLE "orders" ADD "app_key_id" INT;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "orders" DROP COLUMN "app_key_id";
        ALTER TABLE "app_keys" DROP COLUMN "revoked_at";
        ALTER TABLE "app_keys" DROP COLUMN "rotated_at";
        ALTER TABLE "app_keys" DROP COLUMN "previous_secret_until";
        ALTER TABLE "app_keys" DROP COLUMN "previous_secret_enc";
        ALTER TABLE "app_keys" DROP COLUMN "scopes";"""
