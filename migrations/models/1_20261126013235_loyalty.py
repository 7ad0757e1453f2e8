from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "loyalty_accounts" (
    "member_id" BIGINT NOT NULL PRIMARY KEY,
    "points_balance" BIGINT NOT NULL DEFAULT 0,
    "points_debt" BIGINT NOT NULL DEFAULT 0,
    "principal_cents" BIGINT NOT NULL DEFAULT 0,
    "bonus_cents" BIGINT NOT NULL DEFAULT 0,
    "tier_code" VARCHAR(20),
    "tier_since" TIMESTAMPTZ,
    "version" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "loyalty_accounts" IS 'One member''s balances: always the sums of their ledgers (and of the live lots, for points).';
        CREATE TABLE IF NOT EXISTS "loyalty_program" (
    "id" INT NOT NULL PRIMARY KEY,
    "data" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "loyalty_program" IS 'The merchant''s loyalty rules (tiers, earn rules, expiry, bonuses) as one validated document.';
        CREATE TABLE IF NOT EXISTS "orders" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "channel" VARCHAR(16) NOT NULL,
    "order_no" VARCHAR(64) NOT NULL,
    "member_id" BIGINT,
    "store_id" INT,
    "request_hash" VARCHAR(64) NOT NULL,
    "amount_cents" BIGINT NOT NULL,
    "discount_cents" BIGINT NOT NULL DEFAULT 0,
    "points_spent" BIGINT NOT NULL DEFAULT 0,
    "points_value_cents" BIGINT NOT NULL DEFAULT 0,
    "principal_spent_cents" BIGINT NOT NULL DEFAULT 0,
    "bonus_spent_cents" BIGINT NOT NULL DEFAULT 0,
    "earn_base_cents" BIGINT NOT NULL DEFAULT 0,
    "points_earned" BIGINT NOT NULL DEFAULT 0,
    "refunded_cents" BIGINT NOT NULL DEFAULT 0,
    "points_reversed" BIGINT NOT NULL DEFAULT 0,
    "points_restored" BIGINT NOT NULL DEFAULT 0,
    "principal_restored_cents" BIGINT NOT NULL DEFAULT 0,
    "bonus_restored_cents" BIGINT NOT NULL DEFAULT 0,
    "status" VARCHAR(20) NOT NULL DEFAULT 'placed',
    "items" JSONB NOT NULL,
    "receipt" JSONB NOT NULL,
    "placed_at" TIMESTAMPTZ NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_orders_channel_c9247a" UNIQUE ("channel", "order_no")
);
CREATE INDEX IF NOT EXISTS "idx_orders_member__522bc8" ON "orders" ("member_id");
CREATE INDEX IF NOT EXISTS "idx_orders_member__54e372" ON "orders" ("member_id", "placed_at");
        CREATE TABLE IF NOT EXISTS "points_entries" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "points" BIGINT NOT NULL,
    "debt_delta" BIGINT NOT NULL DEFAULT 0,
    "balance_after" BIGINT NOT NULL,
    "reason" VARCHAR(200) NOT NULL DEFAULT '',
    "source" VARCHAR(12) NOT NULL,
    "channel" VARCHAR(16),
    "store_id" INT,
    "order_id" BIGINT,
    "ref" VARCHAR(120),
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_points_entr_member__ba2bab" UNIQUE ("member_id", "ref")
);
CREATE INDEX IF NOT EXISTS "idx_points_entr_order_i_e469d0" ON "points_entries" ("order_id");
CREATE INDEX IF NOT EXISTS "idx_points_entr_member__430b34" ON "points_entries" ("member_id", "id");
        CREATE TABLE IF NOT EXISTS "points_lots" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "earned" BIGINT NOT NULL,
    "remaining" BIGINT NOT NULL,
    "expires_at" TIMESTAMPTZ,
    "entry_id" BIGINT,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_points_lots_member__ccb188" ON "points_lots" ("member_id", "remaining");
CREATE INDEX IF NOT EXISTS "idx_points_lots_expires_8a1e12" ON "points_lots" ("expires_at", "remaining");
COMMENT ON TABLE "points_lots" IS 'Points earned together, with one expiry; spending takes from the first to expire.';
        CREATE TABLE IF NOT EXISTS "points_lot_uses" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "entry_id" BIGINT NOT NULL,
    "lot_id" BIGINT NOT NULL,
    "points" BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_points_lot__entry_i_fdd487" ON "points_lot_uses" ("entry_id");
COMMENT ON TABLE "points_lot_uses" IS 'Which lots a debit took from, so a refund puts spent points back where they came from.';
        CREATE TABLE IF NOT EXISTS "order_refunds" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "order_id" BIGINT NOT NULL,
    "refund_no" VARCHAR(64),
    "amount_cents" BIGINT NOT NULL,
    "reason" VARCHAR(200) NOT NULL DEFAULT '',
    "points_reversed" BIGINT NOT NULL DEFAULT 0,
    "points_clawed_back" BIGINT NOT NULL DEFAULT 0,
    "debt_added" BIGINT NOT NULL DEFAULT 0,
    "points_restored" BIGINT NOT NULL DEFAULT 0,
    "principal_restored_cents" BIGINT NOT NULL DEFAULT 0,
    "bonus_restored_cents" BIGINT NOT NULL DEFAULT 0,
    "receipt" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_order_refun_order_i_9d1f3b" UNIQUE ("order_id", "refund_no")
);
CREATE INDEX IF NOT EXISTS "idx_order_refun_order_i_f2960a" ON "order_refunds" ("order_id");
        CREATE TABLE IF NOT EXISTS "tier_changes" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "from_code" VARCHAR(20),
    "to_code" VARCHAR(20) NOT NULL,
    "reason" VARCHAR(16) NOT NULL,
    "measure" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_tier_change_member__463c6e" ON "tier_changes" ("member_id");
        CREATE TABLE IF NOT EXISTS "tier_gifts" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "tier_code" VARCHAR(20) NOT NULL,
    "period" VARCHAR(8) NOT NULL,
    "points" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_tier_gifts_member__c3e318" UNIQUE ("member_id", "tier_code", "period")
);
COMMENT ON TABLE "tier_gifts" IS 'A tier''s gift pack, granted once per member, tier and period (calendar year).';
        CREATE TABLE IF NOT EXISTS "wallet_topups" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "payment_ref" VARCHAR(64) NOT NULL UNIQUE,
    "member_id" BIGINT NOT NULL,
    "store_id" INT,
    "amount_cents" BIGINT NOT NULL,
    "bonus_cents" BIGINT NOT NULL,
    "receipt" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_wallet_topu_member__7da7d0" ON "wallet_topups" ("member_id");
        CREATE TABLE IF NOT EXISTS "wallet_entries" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "principal_cents" BIGINT NOT NULL,
    "bonus_cents" BIGINT NOT NULL,
    "principal_after" BIGINT NOT NULL,
    "bonus_after" BIGINT NOT NULL,
    "reason" VARCHAR(200) NOT NULL DEFAULT '',
    "channel" VARCHAR(16),
    "store_id" INT,
    "order_id" BIGINT,
    "payment_ref" VARCHAR(64),
    "ref" VARCHAR(120),
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_wallet_entr_member__22253f" UNIQUE ("member_id", "ref")
);
CREATE INDEX IF NOT EXISTS "idx_wallet_entr_order_i_30b8d0" ON "wallet_entries" ("order_id");
CREATE INDEX IF NOT EXISTS "idx_wallet_entr_member__1f4b3c" ON "wallet_entries" ("member_id", "id");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "tier_changes";
        DROP TABLE IF EXISTS "order_refunds";
        DROP TABLE IF EXISTS "points_lots";
        DROP TABLE IF EXISTS "orders";
        DROP TABLE IF EXISTS "points_lot_uses";
        DROP TABLE IF EXISTS "loyalty_program";
        DROP TABLE IF EXISTS "loyalty_accounts";
        DROP TABLE IF EXISTS "tier_gifts";
        DROP TABLE IF EXISTS "points_entries";
        DROP TABLE IF EXISTS "wallet_topups";
        DROP TABLE IF EXISTS "wallet_entries";"""


MODELS_STATE = (
    "eJztXWtz2zYW/SsYfakzo2RjxXa86c7OOInbepvEGcfZdJrJyBAJSVxTAMuHHU0n/30BPs"
    "QXSJEUKRL2/dI6BC5JHYDAuU/8PVoxnZjOszPL+p2sR6/Q3yOKV4T/kWkZoxG2rPi6uODi"
    "mel35S3TW7L2L+KZ49pYc/n1OTYdwi/pxNFsw3INRkXvM4oM6pKFjcUVpGHTJDY6YNQ0KE"
    "Er/s8x+nj5aYzOrz4+eYUcY0EdZJO/POK4Dro33CX67f3Zm6effjubHJ88Ew/VmcafatBF"
    "R/f3qMGbpy5bEHdJbP6Ur9/4ZYPq5Dtxon9at9O5QUw9BaOhixv416fu2vKvXVD3F7+jeP"
    "XZVGOmt6JxZ2vtLhnd9OY/RlxdEEr4TyLi9q7tCWCpZ5rhGERYB28adwleMSGjkzn2TDE8"
    "Qjo3OtHFBKDhJY1RMbL8bRz/By7EU55ODo9eHp2+ODk65V38N9lcefkj+Hnxbw8EfQQ+XI"
    "9++O3YxUEPH8YYN///OeTeLLEthy7qnwGPv3IWvAiqMvSiCzF88WRuCb8V/j41CV24S/7P"
    "w+fPS9D679nVm9/Org54ryfi1zD+gQVf3oewaRK0CUhjCPknOZVNv2IQY4l2YOx8EqZAPK"
    "qC4VExhEc5BB2i2cSdEqrlUbwm3wu+4rSUKhOyBLvr8z+uxUuvHOcvM4nZwfuzP3w4V+uw"
    "5d3lh1+j7gmM37y7fJ3Blu8Rxp3kE3/NmEkwlUMbC2VgnXGprnDdTNq2cX19efkuhevriy"
    "xwn9+/Pucfvg8y72S4JLl8xmjyGSd+9RS7eUTf8hbXWBE5pGnJDKx6KPos+mOYc3fEf4N+"
    "Sc11OFplc/ni/fmn67P3H1PAvz27Phctk9Rkjq4enGTWjM1N0JeL69+Q+Cf68/LDuY8gc9"
    "yF7T8x7nf950i8E/ZcNqXsfor1xGoYXY2A+SHIxPw2sS2KCzOs3d5jW5/mWtiEFfXNN60m"
    "q+wVTPHCHxYBrnjNiPp5uuG+YwspLYzayomh6DU1w25bmeGXJUO6oaP7JXaRy/j/DW2JVm"
    "Q1I/Y4YGYzMmc2+Qeeu8T+Gd3bhusSwfcQ52VIW2K6ID85HFhMHbFWMJrnh509pWWW+NpY"
    "PCCi+M/J5MWLl5PnL05Oj49evjw+fb5hjPmmMur4+uJXsfylvsftdJIPE7MDpGrwobSUKj"
    "t5hlqeVGGW2RUuQSxPsqwoQKUes0zKNMIxnJW9wXhyVAHGk6NCGEVTngDxN6oHYijR1VTs"
    "lJ+3D2GwaEunYtnqmRLbvog2mo0Kr6Ixvi62+V5We9nMiCn5vb+YVJisLyaFk1U0ScGst2"
    "6mhJQEsv2vPmBneRT/8+nygxzFWCID4WfKf9tX3dDcMTINx/02SEBLABS/uVw1z2rhGRVF"
    "3CCnmgveWwffjQDAWwHe0NZccyVIS8FSoKDZo2VOoIiVI8JhqGaOTy6ez880jXnUHUlMHa"
    "n2cZm5wxE9pzjoWs0bVjzY4HPau8/Jc4hd1++UlFHRadL+mmxhx7ln/KtcYmdZB8qcoJoG"
    "l8nxcQVIea9CTP22DGdgZq1pGfVXE8JObFbgbWrN2+SyW0Knd8R2pBaswr0mJ9fI+NII1s"
    "O+tx1VSSv46kp9dalwAZfZRKrWFX4RSZGOLJGtD2ALn0OO+mdAzCP4C79qLOjvZO0DecFf"
    "CVNNtjhvaHt4n8EB+COaBNHV+C1sfL/h86m5wX8f/1UkWJCv+ES9unjDgexLYxLQSlWlEP"
    "MyHYmJD24MupFaupHGh7IOAY36q6gTtW/7h2jGnaMZgcFDvBhw0F0NqUmehedzyecUiv3y"
    "+xUxcUG8QYFlVBmm9aNLdnShk5XFXEK19RXRmJ3mH4WdSlmTEXef2n7/DijU15GjscBlf0"
    "vWo28QvDaQ4LXNsFSlDxsBRfnDpBJ/mJTwh4ksG6IOhGF3NQHsxgQdOqDrmvWzcmpC2r6f"
    "hG/Abr2vOhLYH4K8cTo3jcXSX5xb+rgrfdsln3Z+YjoWfyKZCoA8p4Z+L5F8REY4KYYzpk"
    "vWyeJkp5ygIpEp+0532uBUN5gyJ6gIwHswCZhMu+WaKNc+DLOuGpuVVVORVURxLQwBSo4m"
    "+W4Z/HYNTBJpSYjl6nkgH7dtSfWRHEhU3hux51G32IKS7jAus55oQddalpPRmWURqj9l1F"
    "yjpSHcVmvE5ojcEf7HwsbURZjqfr6gbuN7bKKDjxcf3z2RFKTY5U6QVDhcu0xv6Uc9ZHL1"
    "kn8kUm0pkXC7Er9jLKKmoeG0Ak8+LWTJp7loTM/mu0ItjSMhoiaE7ZsY/FWayL7zMu9jQm"
    "qP7sfO6EuL7keHebZWz/i1kVBzTnaQT0i+u8UxmCUphRk5Je0J7cMJWgtoLbtrLR6n9yt/"
    "mrwl85FMbUn3GJfqLX7fcFD4SFcvsIf1lUGfchGDEh1ZNpsbJkH+jX5Gd9j0iINM446Imi"
    "Y3N+99Qvos+Tjn5gYdUIZWRlRHzyJ2cAOZhrOPJ0LQ396D/vr0mapeO47/sHqay0ZATYLT"
    "voO0rqdkJwdJ7/i1rPcJr7th11ZZkmJ71FnqRi/1EzO5ZIZGJP7l4sIICREojZCherLSCI"
    "kvovqGnRZ6pA58CI+G8GhQBgelDAZKzkiiBIYt4zLlL/ASDCxTCtxH7buPKKtDclNCKmpa"
    "lWJ7S0J785G9RWF/5ZGU0nC/1nSFHISJvXagPo4VsfkyNuWPYw1cmllZtWjYnv2aFoeG1C"
    "0rnxJSxGi/7yjLACMTO+5RLY9nWkwRcDMWrCoGrGL7Vc5v7ENi2WRufH9RH8uEoJJovqji"
    "Xir2LuXyfw3ttnYOcEJGSQzbtwjyH6zLKlMWgxhL7DFpwqO3XB2hre31LZsGZ4btLnUsMe"
    "0L1VaOY1KmTKkd5LQsgU/oqBl4yArLwsmL59hGQMmvdHJc5TPlvUpyxfJ1OZOOvVoG06xg"
    "C2bTZh/xv+Ye9euto5lnmK5BnWfisf/e4avetzWV78HEtrE5rVu8IyeooqLZRaKZgKVBxG"
    "dGEErOF6tGNlkY4i3E204bxH8WyavpFGy/EGIKnwYFywrl1VL4W0ycFHgQu5GzICcM/oK+"
    "k5dS89smwguww9DK79PCKA+KRCs3yEEpvSbDmpaEgex5ID1Lb+inTUvCujtwP23SLUmoa7"
    "iGLBCnTvGqwAd7EdxtPegB3m/9qgCYML1yVOi9jjqMtzuxp2ECZsX45WtxyKLH9SXqIr/m"
    "iR8JfBCd0BiS+jEK85SejNEtsdzg5EZxQGOUY2lQxCgpPwyy42dJq2yl8v+SKkqYdwWFtw"
    "bmoR9kgufD8IRChidkeDaAEDI8O2GNkOE5qJREyPBsFU5QFh+Jsti9dnR+V6obBc3jCpoR"
    "uaunFwViSEwz06DkVVhFRmcrPtDh0fQI+wVnHKGRjLeeWp9Th9p/xPYg5IxSxP/LO3zdZH"
    "Qlguq/gTYE2tBD1YYeV8Zj+zm3PWiTfdOk9j3EcIpVEz+whdcmwxLQimOdEiIQ5dQ8ygly"
    "9YDWt0TrN96gQmaf9BdtJfdpV9V2gn9JCbrHa+QyJEpVLqjhcKYdEvJn6BxrS3Rwy+fSWP"
    "DvcVBW5QmaEZPRhSPEsItWfFB8X0QoluP4nT1F6uwQNwrBCjcI/37g5BgMrY9GqCpjivqr"
    "STrbtxzHM7sqgrHEHpMSdtjRu6btwYpQA8CNgKpzsIoLiPcqmYU5NxDQIJVpUDoRF+ws7W"
    "+BOaKZBTyPdu0zh+O6DsNDuiiWaJw5dTg1jVLHDr85+/Tm7O15X6cOB+C+F5nmo0J+HjRX"
    "Ied+ynrNiorIF3qFbm6ChPebGzRnpk50JDLf+WXHs++MO2bf3DxDn6kuCLJf9n225gybkv"
    "vgBigoRF9cR7GD50AhkOEy8Gg0ay/5GUGoJV9iW49KVDSsbAEAbwOYr6AFU7hEE0rIKGl+"
    "bz/HfcXuZGFIxWbkjQAYkcGI/Di1p4EYka/InP+Q5TW7JVRGUVPtpRzVDnpyusa7Qg041T"
    "fJYurnD3DtI3XTUiom53dwnK43+x/RJMt3ScRpLLK3OnDDDqBQ6wxG2AZLMiOdZpGuDiS3"
    "DmUIgZOqPJID4aRfCN//3DNNY548YjndoZSV3hONd53ioG9V2ykKnoD40mKLcy+ZZ6OVQY"
    "2nls0WNl6NkV8tDc1ttkKi4NDEIY5IXRgHaZbM9v/PPHcTpYDWxJVYT7t8kjS4IXbkMotQ"
    "EbUMxHogxFoNr/yw2WA4qWtgGEuoiWH7aoknrHD1QEyIgE00+N3BMj29Jeu6VZMlooqAWk"
    "aAuqid3FvYwSOpbAd0XmU6D4mkD2UkB6KYvWNrbLrrEs0s02NcppqZQd+autnlJoD7JwfN"
    "sCmim5xXCJv3eO34OZ2Ot3KEKsX/NmxkEn1BbAcdYKqHV4NDPU3mOmM05wqUxcQ8kZwR2v"
    "GzdnByDCfe7nGoZsGwTcM5UA/0vOz+Ih2fqwF8DmidzCQbVQWUI0GAuBhi/k6aYYlS2VEi"
    "fw2Y88IAdSHUM0Y9pwnMGUGAuDj/3PCL9dUrFp8SUkS37vpIMh8Tx5Bub+UaQloSfHA9q3"
    "qF1ZfKFpzi0kuw2IAW/TA+kmFp0R8DB9+oWIuOeoyraNFWonPFsky2KCTictU2vAeyPZNw"
    "7VWs51xdJdimwSX+twiVWY+Rz0uI8wRhv46SSLQ2/ImN+PTxVpyvFBVo6u5hLccK7uzPHJ"
    "DWvGOpkGJ9WDTkoSsO+I76Q7x383hv2Hxg89l587m0dfn53kFD6VbDRJcOIru/Jita+Q8R"
    "Z0Vn41Iy9fYsE2tQXq9ns+hjLIXdfvWyzZSvAWNSRk0cO0hDg2iATrVfqLLX7LQ1/uaOWz"
    "thJisHX3kYJbkS3uImRvWsJBQcKfvadcPRmiKdlwWj4jaXp2OFBbhr+zw3kgDyNpD9KlyN"
    "/J5SeQC8gpfZn567+ZoztwDYt3icG0MuFQe4C+EWZuvpDDuN1hSJMEC9bQUXoMmKjVRYvG"
    "NRgLnkMPO5R8W5vw0mdF4WgN42n21xVInTcEYnhQHq7VD75oimUMfCAHUF2hcBthvzy98F"
    "wN9C/nYBvugOAHqJVRS7ngTmkhouG4k91tIO/GU7uLu7jj80XLKSwFgcU7ARGFJQgXigSk"
    "EFNtEIf8s6uCdEhoS8auEcsQM7h315NEdKEII5+g63hRxZlUdyIGE5H30l45y6tvQgn2Tz"
    "uCxEJ7J08J5Vj/CpGaqT8pZzhX9bnE5UYQYCdOD8y4foJn1kRxG1HvwUrFhNTDIwN7e68M"
    "nMFYdhyGK1S933KTnQ/YsNLkFO9xTPXdlhLKWWlqwoTOVytwR2ZDltZfFTkYSKJ5ZNnlcz"
    "sJRZWHImFod5tiy9s8RUtZFQdL9q/eg8OK+5hU0fIkmbRJIGMd91uXxSCqKbSx3f9baXub"
    "ofdCXr/WGJ+f4wb78HOxjYwVqyg71j0uJiceO4gg1M1NyqZAAbBfdFQXgQisxdUYFlSsKE"
    "5J+RiIvT+SxALr4lTlCTWdT4mhu244pTpoMTBfIp0J08YXvec85at+LzVbwS7/c1c/xBoh"
    "HMdWCue6h6ZJPwwT7iBlXENl5CasGbEgOES2fvcM66gRpNuziNhYNuXXudT0qppQND3Wr4"
    "UJTVRT47ZFSmjoj2ihrJVBQ0qqaVfFka2tKvHIww0snMEPyf3fo6wRg5jF8N4u2R5fE+fs"
    "5OWF4YCQDQPVcKiNAe1kjjb+4L5lWT7h4DZzj2vSAWKxo97T8VFkOF4Y7hFV96XXBjGeDA"
    "25M5IGCgLWwHstte+ZuMbJ8NW0p32MDJEWxUnYS9Jb0owWNkNapgQ+trQ+vJN/ZYNrR4yu"
    "fwLXWRxUJKOsqgeo26ExbihXaOF4IU5X2nKGsmvif6VFCqRmhn5AHw8thYrOt1p3VaDgCG"
    "pPsBQA1J9/2BD0n3vdA7SFvuJ20ZXGvgWtvZ2HdtEJtrYtRfO3IGv0TruMzoF5zi5XfswO"
    "YHpr2BmPaGHBSnMOAxwMJjW/sIvZSQksa9Do7QY/VPImS7gdh7hlX7KKphums1H6P1BKsV"
    "R8Szax5UnBAC1QNiy4AAd0uAfzXm0jSXTdt28rvg3SqGk50hIfGTg4QMsvivGKOFjak4To"
    "9RjSCL2OFh92O/KxKH2POLBtPRgYb5YqVjG60Jtp/ko8hav/v22jPpM3z9O4E/Hkj7o/Fw"
    "9nTwde9kqX3CGS4eNWCMJdTE8LQChKeFCJ6qWsMHuCZwzUfINZnlWVKi6TeUssx7bJrE5T"
    "SM9wQb68OlaxZei/O0pzWLYGTE2tkMO0f8oR5D+Vjs1VA9qEn1IIg83Wc8SOMwEEAZAkAg"
    "AAR0koetk3zx9YrCeufJ5nEF/QTqnYMeM3ju/TA2Xqh3Pspqh/XqnW+irHcK0QaaCGR8MC"
    "jH07JBIXSJMKC9fU43KTmfFgSUIYG04wRSKJbeAmMAcycUSx/a6tijv6jvD7x9hxFUns8u"
    "j1B5HiySe7ZInhHb0JYjiTEybBmX2SFx3GcwARIPyKq4IysotheK2iRGPZqfEFHTpjU5Pq"
    "7C9I+Pi5m+aMt4ly2rDohhdzUBPKykKh2WqEqHElWJUZfQWg7NhEhfDs3Otq7WXJe9bi8/"
    "/g8u1ELT"
)
