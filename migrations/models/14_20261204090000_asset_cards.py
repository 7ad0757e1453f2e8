from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

# The member's asset card (backend.loyalty.cards) and the triggers that keep it honest: every statement
# that writes a row the asset view reads bumps the version of each member it touched, in its own
# transaction, so a card computed before the change can be neither served nor written back after it.
# Statement-level with transition tables: a COPY or a bulk UPDATE bumps each card once per statement,
# and ``= ANY (ARRAY(...))`` is an index probe in member-id order whatever the statement's size. The functions
# run with seq scans off: PL/pgSQL keeps a statement's first plan for the session, and a plan made while the
# table was small (a fresh database, an import filling it) would scan the whole table on every write after.
SOURCES = ("loyalty_accounts", "points_lots", "coupons", "checkout_sessions")


def _triggers(table: str) -> str:
    return f"""
CREATE TRIGGER "asset_cards_{table}_ins" AFTER INSERT ON "{table}" REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION asset_cards_bump_inserted();
CREATE TRIGGER "asset_cards_{table}_upd" AFTER UPDATE ON "{table}" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION asset_cards_bump_updated();
CREATE TRIGGER "asset_cards_{table}_del" AFTER DELETE ON "{table}" REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION asset_cards_bump_deleted();"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
CREATE TABLE IF NOT EXISTS "asset_cards" (
    "member_id" BIGINT NOT NULL PRIMARY KEY,
    "version" BIGINT NOT NULL DEFAULT 0,
    "card_version" BIGINT,
    "fresh_until" TIMESTAMPTZ,
    "status" VARCHAR(12),
    "tier_code" VARCHAR(20),
    "tier_measure" BIGINT,
    "view" TEXT
) WITH (fillfactor = 70);
COMMENT ON TABLE "asset_cards" IS 'A member''s asset view as last computed: usable while card_version = version and before fresh_until.';
INSERT INTO "asset_cards" ("member_id") SELECT "id" FROM "members" ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION asset_cards_bump_inserted() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    UPDATE asset_cards SET version = version + 1 WHERE member_id = ANY (ARRAY(SELECT member_id FROM new_rows));
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION asset_cards_bump_updated() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    UPDATE asset_cards SET version = version + 1 WHERE member_id = ANY (ARRAY(
        SELECT member_id FROM old_rows UNION ALL SELECT member_id FROM new_rows));
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION asset_cards_bump_deleted() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    UPDATE asset_cards SET version = version + 1 WHERE member_id = ANY (ARRAY(SELECT member_id FROM old_rows));
    RETURN NULL;
END $$;

-- Members: the card row is born with the member (a reader never inserts one: it could wait on a writer),
-- goes with it, and a status change (merged, deleted) bumps it.
CREATE OR REPLACE FUNCTION asset_cards_add_members() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    INSERT INTO asset_cards (member_id) SELECT id FROM new_rows
        ON CONFLICT (member_id) DO UPDATE SET version = asset_cards.version + 1;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION asset_cards_drop_members() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    DELETE FROM asset_cards WHERE member_id = ANY (ARRAY(SELECT id FROM old_rows));
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION asset_cards_bump_member() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    UPDATE asset_cards SET version = version + 1 WHERE member_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER "asset_cards_members_ins" AFTER INSERT ON "members" REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION asset_cards_add_members();
CREATE TRIGGER "asset_cards_members_del" AFTER DELETE ON "members" REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION asset_cards_drop_members();
CREATE TRIGGER "asset_cards_members_upd" AFTER UPDATE OF "status" ON "members"
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION asset_cards_bump_member();
""" + "".join(_triggers(table) for table in SOURCES)


async def downgrade(db: BaseDBAsyncClient) -> str:
    drops = "".join(f'DROP TRIGGER IF EXISTS "asset_cards_{table}_{event}" ON "{table}";\n'
                    for table in (*SOURCES, "members") for event in ("ins", "upd", "del"))
    return drops + """
DROP FUNCTION IF EXISTS asset_cards_bump_inserted(), asset_cards_bump_updated(), asset_cards_bump_deleted(),
    asset_cards_add_members(), asset_cards_drop_members(), asset_cards_bump_member();
DROP TABLE IF EXISTS "asset_cards";"""
