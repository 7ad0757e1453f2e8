from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "member_imports" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "filename" VARCHAR(200) NOT NULL,
    "format" VARCHAR(8) NOT NULL,
    "encoding" VARCHAR(12),
    "sha256" VARCHAR(64) NOT NULL,
    "status" VARCHAR(12) NOT NULL DEFAULT 'validated',
    "channel" VARCHAR(16) NOT NULL,
    "skip_invalid" BOOL NOT NULL DEFAULT False,
    "rows_total" INT NOT NULL DEFAULT 0,
    "rows_valid" INT NOT NULL DEFAULT 0,
    "rows_invalid" INT NOT NULL DEFAULT 0,
    "totals" JSONB NOT NULL,
    "counts" JSONB NOT NULL,
    "cursor" INT NOT NULL DEFAULT 0,
    "error" VARCHAR(300),
    "created_by" VARCHAR(64),
    "created_at" TIMESTAMPTZ NOT NULL,
    "started_at" TIMESTAMPTZ,
    "finished_at" TIMESTAMPTZ,
    "undone_at" TIMESTAMPTZ,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_member_impo_sha256_1a2b3c" ON "member_imports" ("sha256");
COMMENT ON TABLE "member_imports" IS 'An import (one uploaded file) and its rows, each with its normalised data, its problems and its outcome.';
        CREATE TABLE IF NOT EXISTS "member_import_rows" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "import_id" INT NOT NULL,
    "row_no" INT NOT NULL,
    "status" VARCHAR(8) NOT NULL,
    "action" VARCHAR(8),
    "phone_index" VARCHAR(64),
    "data_enc" TEXT,
    "errors" JSONB NOT NULL,
    "member_id" BIGINT,
    "before_enc" TEXT,
    "outcome" VARCHAR(300),
    "updated_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_member_impo_import__4d5e6f" UNIQUE ("import_id", "row_no")
);
CREATE INDEX IF NOT EXISTS "idx_member_impo_member__7a8b9c" ON "member_import_rows" ("member_id");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "member_import_rows";
        DROP TABLE IF EXISTS "member_imports";"""
