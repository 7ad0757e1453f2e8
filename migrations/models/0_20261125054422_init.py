from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "app_keys" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(100) NOT NULL,
    "key_id" VARCHAR(40) NOT NULL UNIQUE,
    "secret_enc" TEXT NOT NULL,
    "active" BOOL NOT NULL DEFAULT True,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);
COMMENT ON TABLE "app_keys" IS 'An integration caller (online mall, POS, ERP): signs requests with HMAC-SHA256.';
CREATE TABLE IF NOT EXISTS "audit_log" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "actor_type" VARCHAR(16) NOT NULL,
    "actor_id" VARCHAR(64),
    "action" VARCHAR(64) NOT NULL,
    "member_id" BIGINT,
    "target_type" VARCHAR(32),
    "target_id" VARCHAR(64),
    "before" JSONB,
    "after" JSONB,
    "request_id" VARCHAR(64),
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_audit_log_action_286eba" ON "audit_log" ("action");
CREATE INDEX IF NOT EXISTS "idx_audit_log_member__a6446c" ON "audit_log" ("member_id");
CREATE INDEX IF NOT EXISTS "idx_audit_log_created_277f5d" ON "audit_log" ("created_at");
COMMENT ON TABLE "audit_log" IS 'Who did what to which member, with before/after; written in the change''s transaction.';
CREATE TABLE IF NOT EXISTS "stores" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "name" VARCHAR(100) NOT NULL,
    "active" BOOL NOT NULL DEFAULT True,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS "staff_accounts" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "username" VARCHAR(64) NOT NULL UNIQUE,
    "password_hash" VARCHAR(255) NOT NULL,
    "role" VARCHAR(16) NOT NULL,
    "active" BOOL NOT NULL DEFAULT True,
    "token_version" INT NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "store_id" INT REFERENCES "stores" ("id") ON DELETE RESTRICT
);
CREATE TABLE IF NOT EXISTS "idempotency_records" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "scope" VARCHAR(120) NOT NULL,
    "key" VARCHAR(255) NOT NULL,
    "request_hash" VARCHAR(64) NOT NULL,
    "state" VARCHAR(12) NOT NULL DEFAULT 'in_flight',
    "response_status" INT,
    "response_body" TEXT,
    "response_type" VARCHAR(100),
    "locked_until" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_idempotency_scope_bab602" UNIQUE ("scope", "key")
);
CREATE INDEX IF NOT EXISTS "idx_idempotency_expires_c48357" ON "idempotency_records" ("expires_at");
CREATE TABLE IF NOT EXISTS "consent_records" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "channel" VARCHAR(8) NOT NULL,
    "purpose" VARCHAR(12) NOT NULL,
    "granted" BOOL NOT NULL,
    "source" VARCHAR(32) NOT NULL,
    "text_version" VARCHAR(32),
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_consent_rec_member__fd8593" ON "consent_records" ("member_id");
COMMENT ON TABLE "consent_records" IS 'Append-only history of every grant and withdrawal (PIPL).';
CREATE TABLE IF NOT EXISTS "custom_field_defs" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "key" VARCHAR(40) NOT NULL UNIQUE,
    "label" VARCHAR(64) NOT NULL,
    "type" VARCHAR(8) NOT NULL,
    "required" BOOL NOT NULL DEFAULT False,
    "choices" JSONB,
    "max_length" INT,
    "active" BOOL NOT NULL DEFAULT True,
    "created_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "custom_field_defs" IS 'An admin-defined profile field; values live in ``Member.custom_fields`` (no migration per field).';
CREATE TABLE IF NOT EXISTS "members" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_no" VARCHAR(20) NOT NULL UNIQUE,
    "status" VARCHAR(12) NOT NULL DEFAULT 'active',
    "merged_into_id" BIGINT,
    "phone_enc" TEXT,
    "phone_last4" VARCHAR(4),
    "phone_prefix3" VARCHAR(3),
    "nickname" VARCHAR(64),
    "gender" VARCHAR(8) NOT NULL DEFAULT 'unknown',
    "birthday" DATE,
    "email" VARCHAR(254),
    "custom_fields" JSONB NOT NULL,
    "referral_code" VARCHAR(12) NOT NULL UNIQUE,
    "referrer_id" BIGINT,
    "registration_channel" VARCHAR(16) NOT NULL,
    "registration_store_id" INT,
    "registered_at" TIMESTAMPTZ NOT NULL,
    "registration_rewarded_at" TIMESTAMPTZ,
    "deleted_at" TIMESTAMPTZ,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_members_status_99497b" ON "members" ("status");
CREATE INDEX IF NOT EXISTS "idx_members_referre_a07a05" ON "members" ("referrer_id");
CREATE TABLE IF NOT EXISTS "member_consents" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "channel" VARCHAR(8) NOT NULL,
    "purpose" VARCHAR(12) NOT NULL,
    "granted" BOOL NOT NULL,
    "source" VARCHAR(32) NOT NULL,
    "text_version" VARCHAR(32),
    "updated_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_member_cons_member__d8d62e" UNIQUE ("member_id", "channel", "purpose")
);
COMMENT ON TABLE "member_consents" IS 'The current state per (member, channel, purpose), kept with the history in one transaction.';
CREATE TABLE IF NOT EXISTS "member_events" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "type" VARCHAR(40) NOT NULL,
    "channel" VARCHAR(16),
    "store_id" INT,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_member_even_member__824fac" ON "member_events" ("member_id", "id");
CREATE INDEX IF NOT EXISTS "idx_member_even_type_36575b" ON "member_events" ("type", "created_at");
COMMENT ON TABLE "member_events" IS 'The member timeline: every domain change appends one, in the change''s transaction.';
CREATE TABLE IF NOT EXISTS "member_identities" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(12) NOT NULL,
    "app_id" VARCHAR(40) NOT NULL DEFAULT '',
    "value" VARCHAR(128) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "member_id" BIGINT NOT NULL REFERENCES "members" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_member_iden_kind_440941" UNIQUE ("kind", "app_id", "value")
);
COMMENT ON TABLE "member_identities" IS 'One way to recognise a member. Each (kind, app, value) belongs to at most one member.';
CREATE TABLE IF NOT EXISTS "member_merges" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "survivor_id" BIGINT NOT NULL,
    "merged_id" BIGINT NOT NULL,
    "actor_id" VARCHAR(64),
    "moved" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_member_merg_survivo_231f26" ON "member_merges" ("survivor_id");
CREATE INDEX IF NOT EXISTS "idx_member_merg_merged__71c81e" ON "member_merges" ("merged_id");
COMMENT ON TABLE "member_merges" IS 'An admin merge: ``merged`` folded into ``survivor``. Undone only by a new merge record.';
CREATE TABLE IF NOT EXISTS "refresh_tokens" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "subject" VARCHAR(40) NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "used_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_refresh_tok_subject_022f34" ON "refresh_tokens" ("subject");
CREATE TABLE IF NOT EXISTS "wechat_accounts" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "app_id" VARCHAR(40) NOT NULL,
    "openid" VARCHAR(64) NOT NULL,
    "unionid" VARCHAR(64),
    "session_key_enc" TEXT,
    "member_id" BIGINT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_wechat_acco_app_id_30da14" UNIQUE ("app_id", "openid")
);
CREATE INDEX IF NOT EXISTS "idx_wechat_acco_member__1ba48c" ON "wechat_accounts" ("member_id");
COMMENT ON TABLE "wechat_accounts" IS 'A WeChat user of our mini-program, known from code2session, with or without a member yet.';
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztXWlv2zga/iuEv2wKuNnUOZrtLBZw0sw006YpknQ7mKJwaIm2uZZID0UlMQb570vqsG"
    "5FciRbbPglh8hXx8NDz3vq755NTWQ5u8PF4iNa9t6Bv3sE2kj8kWrpgx5cLKLj8gCHY8vr"
    "KlpGc7T0DsKxwxk0uDg+gZaDxCETOQbDC44pkb2HBGDC0ZRBeQQY0LIQAzuUWJggYIt/++"
    "DL5XUfnF19efUOOHhKHMDQXy5yuAPuMZ+BDxfD09fXH4aDw6NdeVGTGuKqmExbOr9LsGge"
    "cTpFfIaYuMr3H+IwJiZ6QE7472I+mmBkmQkYsSlP4B0f8eXCO3ZO+K9eR3nr45FBLdcmUe"
    "fFks8oWfUWDyOPThFB4pGQPD1nrgSWuJYVjEGItX+nURf/FmMyJppA15LDI6UzoxMejAEa"
    "HDIokSMr7sbxHnAqr/J68Obg7cHx/tHBseji3cnqyNtH//GiZ/cFPQQ+3/QevXbIod/Dgz"
    "HCzfudQe50Blk+dGH/FHjiltPghVCVoRceiOCLJnND+NnwYWQhMuUz8e+bvb0StP47vDr9"
    "MLzaEb1eyaehYoH5K+9z0DTw2ySkEYRiSY7ypl8xiJFEMzC2PgkTIB5UwfCgGMKDDIIOMh"
    "jiI0SMLIo36KFgFSelVJmQJdjdnP1xI2/adpy/rDhmOxfDPzw47WXQ8uny829h9xjGp58u"
    "T1LYincEvstZ4ieUWgiSfGgjoRSsYyHVFq6rSds0rieXl58SuJ6cp4H7enFyJha+B7LohD"
    "mKb58RmmLGyaceQZ5F9L1o4dhG+ZAmJVOwmoHobvhHN+duTzyDeUmsZTBaZXP5/OLs+mZ4"
    "8SUB/PvhzZlsGSQmc3h05yi1Z6xOAr6d33wA8l/w5+XnMw9B6vAp864Y9bv5syfvCbqcjg"
    "i9H0EzthuGR0NgHiWZmMxjr0V5YAyN+T1k5ijTQge0qG+2yR7Y6SOQwKk3LBJceZsh9XNN"
    "zD/RaS4tDNvKiaHsNbKCbk8yw28zCkxsgvsZ5IBT8RsbM2Aje4xY32dmYzShDP0TTjhiv4"
    "B7hjlHku8BwcuAMYNkiv7hCGAhceReQUmWH7Z2lYZZ4gme/kRE8V+Dwf7+28He/tHx4cHb"
    "t4fHeyvGmG0qo44n57/J7S+xHp+mk2KYKPORqsGHklKqvMlT1PKoCrNM73AxYnmUZkU+Kv"
    "WYZVxmLRyDWbk1GI8OKsB4dFAIo2zKEiBxR/VADCTamoqt8vPmIfQ37dypWLZ7JsSe3kTX"
    "mo0K76IRvhwy8S6rvW2mxJRc7/uDCpN1f1A4WWVTLpj19s2EkJJANr/qfXaWRfH368vP+S"
    "hGEikIvxLxbN9NbPA+sLDDf3QS0BIA5TOXq+ZpLTylosgTZFRzyXvr4LsS0PBWgDewNdfc"
    "CZJSeitQ0OzRMCdQxMoR4tBVM8c1h5PJ0DCoS3gvx9SRaO+XmTsc2XME/a7VvGHFg619Th"
    "v3ObkOYnX9TnEZFZ0mze/JC+g491Ssyhl0ZnWgzAiqaXAZHB5WgFT0KsTUa0txBmrVmpZh"
    "fzUhbMVmpb1NjXmbOJ0jMrpDzMm1YBW+azJyaxlf1oL1zbZfO6qSVu2rK/XVJcIFOGUoV6"
    "0rXBFxkZYskY0PYAPLIUP9UyBmEfxVHMVT8hEtPSDPxS1BYuRtzivaHpyncwA+hpMgPBrd"
    "BYP3Kz6fmBvi+cRTIX9DvhIT9er8VAC5LY1JQpurKgWYl+lIVC64vtaN1NKNDDGUdQho2F"
    "9Fnah527+OZnx2NKNm8DpeTHPQ5xpS4zwLTiY5yykQ+/XjFbJgQbxBgWVUGab12CY7OjeR"
    "vaAcEWN5hQzKkvyjsFMpa8JR9xHz+rdAob73HIP6Lvs5WvZ+6OC1jgSvrYalKn1YCSjKHw"
    "aV+MOghD8M8rIh6kAYdFcTwHZM0IEDuq5ZPy2nJqTN+0nEC5jXW9WhwOYQFI2jiYWnM29z"
    "bmhxV1rbJUs7OzGdhbgiGkmAXKeGfp8j+YKMcLkYjqmZs08WJztlBBWJTNl0utMKp7rBlB"
    "lBRQDegEnAosZcaKJC+8BWXTU2LaumIquI4loYAhQfTfSwwOJ0a5gkkpI6lmvLA/mybUuq"
    "j2RHovJO5TuP8GILSrJDv8x6Yvhda1lOesPFAhHzNSXWEsywdFstAZ0AdIfEH1MGCQeQmF"
    "6+oMngPbTAzpfzL59e5RSkeM6ZdFJhd+0yW0s/2kIm11byj2SqLUE53K7E7xiJqGloOK7A"
    "k48LWfJxJhrTZeKtUEvjiImoCWHzJgZvl0Z567zM+xiT2qD7sTX60qD70aEuM+oZv1YSas"
    "7JFvIJ0QMvjsEsSSlMySlpT2geTq21aK3l+VqLK+i97U2T92jSy1Nbkj36pXqL1zcYFDHS"
    "1QvsQdPG5LUQwQSZYMHoBFsIeCf6BdxBy0UOsPAdkjVNbm8vPEK6G7+cc3sLdggFNg7r6C"
    "0Q80+Qp+Fs4oo66G/jQX/b9JmqXjtOPFg9zWUloCbBad5BWtdT8iwHydbxa1jvk153zGqr"
    "LHGxDeosdaOXthMzOaPYQDn+5eLCCDERXRohRfXySiPEVkT1F3ZS6IU68HV4tA6P1spgp5"
    "RBX8np5SiBQUu/TPnzvQQdy5TS7qPm3UeE1iG5CSEVNa1Ksb0lob3ZyN6isL/ySMrccL/G"
    "dIUMhLF3bUd9HDZiYhsbicvRNVyaaVm1aNiG/ZoLAQ2qW1Y+IaSI0X7TUZY+RhZ0+EEtj2"
    "dSTBFwUxasKgasYvtVxm/sQbJgaIIf9utjGRNUEs39Ku6lYu9SJv8XG/PaOcAxGSUxbN4i"
    "KB7YzKtMWQxiJLHBpAmXzIU6Qhp71zdsGhxjxmcmzDHtS9U2H8e4TJlS28lpWQKf1FFT8C"
    "Ab5oWTF8+xlYCSq3RwWGWZil4luWLZupxxx14tg2lasAGz6XqL+N8Tl3j11sHYxRbHxNmV"
    "l/3PM1b1pq2p4h2MGIPWqG7xjoygiopmG4lmEpY1Ij5TgrrkfLFqxNAUy7uQdztaI/6zSF"
    "5Np2DzhRAT+KxRsKxQXi2Fv8HESYkHYms5CzLC2l+w7eSlxPxmSHoBnjG0+edpYJQ7RaKV"
    "G2S/lN46w5qU1AO55YF0F+aaftqkpN53O+6njbslEeGY47xAnDrFq3wf7Ll/tmWnB3iz9a"
    "t8YIL0yl6h9zrs0H/aiT0KEjArxi/fyI8sukJfIhx4NU+8SOCd8AuNAanvgyBP6VUfzNGC"
    "+19ulB9oDHMsMQGUoPKPQbZ8rdwqW4n8v7iKEuRd6cJbHfPQdzLB8+fwhOoMT53huQaEOs"
    "OzFdaoMzw7lZKoMzwbhVMriy9EWWxfOzq7K9WN/OZ+Bc0I3dXTi3wxIKeZhQl6F1SRMakt"
    "Bjr4ND2AXsEZR2ok/Se/Wp9Rh5q/xNNByCmlSPwUHb6vMrpiQfU/tDaktaGfVRt6WRmPze"
    "fcbkGb3DZNat5DrL9itY4feAGXFoU5oBXHOsVEdJTT+lFOOldP0/qGaP3KG1TI7OP+oifJ"
    "fdJV9TTBvyQI3MMl4BTIUpVTgh3BtANCvgvOoDEDO3Mxl/qSf/f9siqvwBhZlEwdKQY5sM"
    "WgeL6IQCzD8Vu7Sq6zQ54oACt4QXjn006OztD6cISqMqawv5qks3nLcTSzqyIYSWwwKeEZ"
    "b/S2abu/I9QAcCWg6hys4gISvUpmYcYNpGmQyjQomYir7SzNvwIzRDMNeBbt2t8cjuo6dA"
    "/poliifuqrw4lplPjs8Onw+nT4/mxbXx32wb2Qmea9Qn7uN1ch517Kes2KisATegdub/2E"
    "99tbMKGWiUwgM9/FYcdld/iOstvbXfCVmJIge2Xfx0vBsAm6908A/EL0xXUUW7iOLgTSXQ"
    "YejmbtLT8lqGvJl9jWwxIVa1a20AA/BbDYQQumcIkmFJNR0vzefI67Te/ywpCKzcgrAW1E"
    "1kbkl6k9dcSIfIUm4kFmN3SOSB5FTbSXclTm9xR0TXTVNeBUf0kWUz9vgGt/UjcppWJyfg"
    "uf03XH/0NGzvZdEnEaiWysDly3AyjU+gajfg2WZEY660W6Ojq5tStDqDmpyiPZEU76DYn3"
    "Hx8aBnXzI5aTHUpZ6T0yRNcR9PtWtZ0C/wpAbC1MfveSugzYmODXC0anDNp94FVLAxNGbS"
    "ALDg0c5MjUhb6fZkmZ95u6fBWlAJaI51hP27xSbnBD5MilC0Rk1LIm1h0h1mp45bvNBoNJ"
    "XQPDSEJNDJtXS1xphasHYkxE20T95/a36dEcLetWTc4RVQTUMgLURu3krYUdvJDKdprOq0"
    "zndSLpzzKSHVHMhohhY9bL0ciCln6ZKgajPp1xDPxEyktrX9RcI5v/uYn8WyfVg8PDCoRQ"
    "9CqpMH2YE3VdU7lTF8A3e1VUO9GrOF54L5srSQkPstSrRhrERLYVa9Daq6uxqIKtvl4e/w"
    "8XyXcl"
)
