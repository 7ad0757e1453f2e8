from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
ALTER TABLE "wallet_topups" ADD COLUMN IF NOT EXISTS "bonus_plan" VARCHAR(20);
CREATE INDEX IF NOT EXISTS "idx_wallet_topu_member__c3a9e1" ON "wallet_topups" ("member_id", "bonus_plan");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
DROP INDEX IF EXISTS "idx_wallet_topu_member__c3a9e1";
ALTER TABLE "wallet_topups" DROP COLUMN IF EXISTS "bonus_plan";"""
