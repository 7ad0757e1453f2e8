from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "messages" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "template_key" VARCHAR(40) NOT NULL,
    "purpose" VARCHAR(12) NOT NULL,
    "channels" JSONB NOT NULL,
    "channel" VARCHAR(8),
    "status" VARCHAR(12) NOT NULL DEFAULT 'queued',
    "dedupe_key" VARCHAR(200) NOT NULL UNIQUE,
    "touch_id" BIGINT,
    "context" JSONB NOT NULL,
    "cap_behaviour" VARCHAR(8) NOT NULL DEFAULT 'drop',
    "attempts" INT NOT NULL DEFAULT 0,
    "due_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ,
    "lease_until" TIMESTAMPTZ,
    "claimed_by" VARCHAR(40),
    "provider" VARCHAR(16),
    "provider_message_id" VARCHAR(128),
    "recipient" VARCHAR(64),
    "rendered" JSONB,
    "reason" TEXT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "sent_at" TIMESTAMPTZ,
    "finished_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_messages_status_aab9f0" ON "messages" ("status", "due_at");
CREATE INDEX IF NOT EXISTS "idx_messages_member__800be3" ON "messages" ("member_id", "id");
CREATE INDEX IF NOT EXISTS "idx_messages_touch_i_80f5a1" ON "messages" ("touch_id", "status");
CREATE INDEX IF NOT EXISTS "idx_messages_provide_1edf49" ON "messages" ("provider", "provider_message_id");
COMMENT ON TABLE "messages" IS 'One message to one member: an outbox row, written in the transaction of what caused it.';
        CREATE TABLE IF NOT EXISTS "message_templates" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "key" VARCHAR(40) NOT NULL UNIQUE,
    "name" VARCHAR(64) NOT NULL,
    "purpose" VARCHAR(12) NOT NULL,
    "enabled" BOOL NOT NULL DEFAULT True,
    "builtin" BOOL NOT NULL DEFAULT False,
    "channels" JSONB NOT NULL,
    "content" JSONB NOT NULL,
    "version" INT NOT NULL DEFAULT 1,
    "updated_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "message_templates" IS 'What one kind of message says on each channel, and in which order the channels are tried.';
        CREATE TABLE IF NOT EXISTS "notification_policy" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "data" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "notification_policy" IS 'Caps, quiet hours, retries and reply keywords: one validated document in one row.';
        CREATE TABLE IF NOT EXISTS "wechat_subscribe_grants" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "template_id" VARCHAR(64) NOT NULL,
    "credits" INT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_wechat_subs_member__535080" UNIQUE ("member_id", "template_id")
);
COMMENT ON TABLE "wechat_subscribe_grants" IS 'One-time WeChat subscribe-message credits: each accept grants one send of that template.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "wechat_subscribe_grants";
        DROP TABLE IF EXISTS "messages";
        DROP TABLE IF EXISTS "message_templates";
        DROP TABLE IF EXISTS "notification_policy";"""


MODELS_STATE = (
    "eJztXWtz27aa/isYfakzo2QTx0m96c7OOKnbepvEmcTddE4mo0AkJGFNESxI2tGcyX9fgB"
    "eJF5AiKFIirPdLG5N4SOrB7b3j36Mls4njP7nwvD/JavQK/Xvk4iUR/yjcGaMR9rzNdXkh"
    "wFMnairuTG7JKrqIp37AsRWI6zPs+ERcsolvceoFlLmy9YWLqBuQOcfyCrKw4xCOTpjrUJ"
    "egpfhzjD5cfxqjy48fHr1CPp27PuLkn5D4gY/uabBAf7y7ePP40x8Xpy9ePpEvtZkl3krd"
    "eU/PD10qbk8CNifBgnDxli9fxWXq2uQ78dM/vdvJjBLHztFIbfmA6PokWHnRtSs3+C1qKD"
    "99OrGYEy7dTWNvFSyYu24tfoy8OicuET+JyMcHPJTEuqHjJH2Qch1/6aZJ/IkZjE1mOHRk"
    "90h0qXfSixlCk0sWc2XPiq/xox84l295fPrs7Oez8+cvz85Fk+hL1ld+/hH/vM1vj4ERA+"
    "9vRj+i+zjAcYuIxg1v0f9LzL1ZYK6mLm1fIE98cpG8lKo69tILG/o2g7kj/pb4+8Qh7jxY"
    "iD+fPX1aw9b/Xnx888fFxxPR6pH8NUxMsHjmvU9uncb3JKUbCsWUnKiGXzWJG0Q3NPY+CH"
    "MknjXh8KyawrMSgz6xOAkmxLXKLN6Q7xWzOI8yZUDWcHdz+feN/Oil7//jZDk7eXfxd0Tn"
    "cpXceXv9/ve0eYbjN2+vXxe4FXsEvVNM8deMOQS7amo3oAKtU4Hqi9f1oO2a19fX129zvL"
    "6+KhL317vXl2LiRySLRjQg2eVzw6YYcfJXT3BQZvRXcSegS6KmNI8s0Gon0CfpP4Y5dkfi"
    "N9jXrrNKeqtuLF+9u/x0c/HuQ474Xy9uLuWd09xgTq+evCysGeuHoM9XN38g+Sf61/X7y4"
    "hB5gdzHr1x0+7mXyP5TTgM2MRl9xNsZ1bD9GpKzA8pTMxuM9uivDDF1u095vakdIedsqq2"
    "5VvL02XxCnbxPOoWSa78zFT0C20avGVzpViY3qsXDGWriZM02yoZfl4wZFMb3S9wgAIm/k"
    "+tBVqS5ZTwcSyZTcmMcfIfeBYQ/gu65zQIiJT3kJDLkLXA7pz85AtisevLtYK5Zfmwt7d0"
    "LCW+pvMHJCj+5+np8+c/nz59/vL8xdnPP784f7qWGMu36kTH11e/y+UvNx+3i5OimxiPmd"
    "KQh/IoU3bygmj5solkWVzhMoLly6JUFLOiJ1lmMa14TEblwWh8edaAxpdnlTTKW2UBSHyR"
    "HokJoq+h2Kt83j2F8aKtHIp1q2cOtn0RbTUaDV5FN/wGmIu9THvZLMCMnO/PTxsM1uenlY"
    "NV3lKSqbdu5kBGEtn9rI+lszKL//Pp+r2axQ2iQOFfrvhtX2xqBWPkUD/4OkhCawiUv7le"
    "NS9q4QUVRT6gpJpLuVeH3zUA6G1Ab2Jr1lwJ8ihYCgw0e3QsExhi5Uh5GKqZ41OAZ7MLy2"
    "KhG4wUpo7c/XGducOXLSc4btrMG1bd2eBz2rvPKfQJ1/U7ZTEmOk26X5M97Pv3TMzKBfYX"
    "OlSWgGYaXE5fvGhAqWhVyWl0ryAzMEdrWKbtzaSwF5sVeJs68zYF7Ja4kzvCfaUFq3KvKe"
    "FaGV9a0frs0NuOqUIr+OpqfXW5cIGAcaJU6ypnRBbSkyWy8w7sYDqURP8CiWUGfxNX6dz9"
    "k6wiIq/EJ2HXUi3Oa7E9ec7gCPyRDoL06uYrOL5fy/O5sSF+n/hVJF6QP4qB+vHqjSDyUB"
    "qTpFapKiWc1+lITE64MehGZulGluhKHQE0bW+iTtS97R+iGXeOZgQJHuLFQAbd1ZCalbPw"
    "bKaYTgnstz8/EgdXxBtUWEaNkbR+9CkdXdlk6bGAuNbqI7EYz8sflY1qpSa6aT7hUfseRK"
    "gvI99iscv+lqxGXyF4bSDBa+tuaSo+rAGGyg+njeSH0xr54VSVDaFDYdLcTAL7MUEnDmhd"
    "s34RZyal3ftJxAYc6M3qFLA/BsXNycyh80W0OHc0uRvN7ZqpXR6YvifeSCaSoNDX0O8VyC"
    "Mywik5nDJbsU5WJzuVgIZEpuw73WnNk24wZQloCMF7MAk4zLoVmqjQPqijq8YWsWYqsoYo"
    "rpUhQNneJN89Kh7XwiSRR0Is14E78rhtS6b35ECi8t7IPc8Nqi0o+QbjOuuJFTfVspyMLj"
    "yPuPZj5jortKDSbbVCbIbIHRH/mHPsBgi7dpQvaHN8jx108uHqw9tHioIUuzwJkgqHa5c5"
    "WPrRATK5DpJ/JFNtXaKQ7Wr8jhuImYaG8wZy8nmllHxeisYMudgVtDSODMRMCrs3MUSrNF"
    "HN8zrvYwa1R/djb+JLh+5Hn4Xc0jN+rRFmjske8gnJ96A6BrMmpbCAM9Ke0D2doLWA1rK7"
    "1hIK8X4ZDZNfyWykUlvyLca1ekvUNukU0dPNC+xhe0ndxwJCXWIjj7MZdQiKHvQLusNOSH"
    "zk0Dsia5p8+/YuEkifZF/nf/uGTlyGljSto+cRHj9ApeHs440Q9Lf3oL9D+kxNrx0nfpie"
    "5rIGmCngdO8g1fWU7OQgOTh/Het90utOubbKkoXtUWfRjV46TMzkglGLKPzL1YURMhAojV"
    "AQ9VSlETIzovmGnQcdqQMfwqMhPBqUwUEpg7GSM1IogcmdcZ3yF3sJBpYpBe6j7t1HLtMR"
    "cnMgEzWtRrG9NaG95cjeqrC/+khKZbhfZ7pCicLMXjtQH8eScLGMTcTrWAuXZhFrlhi2Z7"
    "+mJ6ghumXlcyBDjPb7jrKMOXKwH5xpeTzzMEPILViwmhiwqu1XJb9xRInHyYx+f67PZQZo"
    "JJvPm7iXqr1Lpfxfat1q5wBnMEZy2L1FUPxgW1WZsprEDWKPSROheyvUEbezvb5j0+CU8m"
    "BhY4VpX6q2ah6zmDqldpDDsoY+qaMW6CFLrAonrx5ja4CRs/T0RZNpKlrV5IqV63JmHXta"
    "BtMisAOzabtJ/F+z0I3qraNpSJ2Auv4T+dr/3mFW79uaKvZgwjl2JrrFO0pAExXNPhLNJC"
    "0tIj4LQCg5X60acTKn8ivk105axH9W4c10CnZfCDHHT4uCZZV4sxT+DhMnJR+Et3IWlMDg"
    "Lzh08lJufHMivQA7dK36OR308qCEaOM6OS6l16Zb80joyAN3ZOjZLf20eSSsuwP302bdks"
    "QNaEBVgTg6xatiH+xV/LTVoDt4v/WrYmKS9MpRpfc6bTDe7sSeJAmYDeOXb+Qhi6HQl9wA"
    "RTVPokjgk/SExkSoH6MkT+nRGN0SL4hPbpQHNKY5ltRFzCX1h0H2/C5lla1c/l9WRUnyrq"
    "Dw1sA89INM8HwYnlDI8IQMzxYUQoZnL1IjZHgOKiURMjw7pROUxSNRFvvXji7vanWj+Pa4"
    "gWZE7vT0ohiG5DBzqEteJVVkbLYUHZ0cTY9wVHDGlxrJeOup9SV1qPtXbA9CLihF4r+iwZ"
    "d1RlcmqP4raEOgDT1Ubei4Mh67z7k9gDZ5aDGpew8xnGLVxg/s4ZXDsIK06linDASinNpH"
    "OUGuHoj1HYn1a29QpWSf9RdtFe7zrqrtAv61S9A9XqGAIVmqcu5SX0jaiUD+BF1ia4FObs"
    "VYGkv5exyXVXmEpsRh7tyXMBygpeiUyBeRwEoyfm9vUTo75IMSspINInoeODkGI9anPdRU"
    "Ykrbmyl0dm853ozspgxuEHtMSthhR+9bbI9XBA0C1wBTx2ATF5BoVTMKS24gEINMFoPyib"
    "hgZ+l+CywJmkXCy2xrnzm8qeswPKarYonGhVOHc8Mod+zwm4tPby5+vTzUqcMxue9kpvmo"
    "Uj6PbzcRzqOUdc2KiigCvULfvsUJ79++oRlzbGIjmfkuLvshv6N3jH/79gT95dpSQI7Kvk"
    "9XQsJ2yX38ABQXoq+uo9jDe6AQyHAl8LQ3tZf8AhBqydfY1tMSFS0rWwDB2wgWK2jFEK7R"
    "hDIYI83v3ee4L9mdKgyp2oy8BoARGYzIx6k9DcSI/JHMxA9Z3LBb4qpE1Nz9WhmVxy2FuC"
    "aaQg040zfJatEv6mDtI3XzKBOT83s4Tjec/h+xFMt3TcTpBrK3OnDDDqAw6wxG2AZrMiP9"
    "dpGuPiS3DqULQSY1uScHIpN+JmL/Cy4si4XqiOV8g1qp9J5YoukEx22b2k5R/AYklhYuz7"
    "1kIUdL6tLHHmdzjpdjFFVLQzPOlkgWHDr1iS9TF8ZxmiXj0f9ZGKyjFNCKBArraZ9vUgY3"
    "bBy5zCOujFoGwXoggrUZXvlhS4PJoNbgcIMwk8Pu1ZJQWuH0SMxAwCYa/+54mZ7ckpVu1W"
    "QF1BBS6wSgPmonHyzs4Egq24E4b7I4D4mkD6UnB6KYvWUr7ASrGs2s0GJcp5o5cVtN3ex6"
    "HcD9k4+m2JHRTf4rhJ17vPKjnE4/XPpSlRL/phw5xJ4T7qMT7NrJ1fhQT4cF/hjNhALlMT"
    "lOFGeE9vyuHZwcw4m3Ow7VLO62STIG9EgvY/cX6fjUDOJLRNtkqtioGrCcAoHiaorFN1nU"
    "k6Wy00R+DZrLYKC6kuopc0O/Dc0FIFBcnX9Oo2J9esXicyBDdOu+jySLOPGpcnur1xDySP"
    "DBHVjVi7pjSbAfck1JpYiEZady2akscVXHb3V9K6AWTBUPYyUalqniQ+xFHVWbKtIW4yam"
    "Ci/TuGHtKy6rtQQ/+Sh5BuKhQ3x0Itdaf4wI5m58SfxbxiOtxigS/oj/COGoWJXMZqfRwE"
    "Zi+IRLIRRWVcHq72UdB2Tu7DQekGlix3os1UYHeaNMXXVUfdoegurbB9XD5gObz86bzzW3"
    "1Yeoxzdqtxomm/QQPv8lWzYseok8kLsY/FMoaug52IIahge2PR9jvfHuS8Sth7wGjVmMmT"
    "z2kOsHIRe9ar9QyrDdkXbiy/1AOyupiINZnoSiLqVLvo3nooiEqi51s92mvtWW6TIWjIrb"
    "/Mq+l1Q513Ysr5FA8jaSo1JnrZzLSjwQ3sCVHw3P3Rz6hUcA7Vvc+q0pV8KB7kq6pdl6Ms"
    "V+qzVFAQaqt63gkjRVRZcGi/cGCjTXnBg/C115uHKLAV3GAtHbxjOX58H4LUd0FgxUb6c6"
    "Mke0pXoDBqobiH0pYbtJfuWnAPlbhL9diK96ApBeYxXFQaiguaZQzhqxx4Llsb9sB3d330"
    "GeNCBLBY3VMQVrwJCCCuQLTQoq4MQi4it1eM9AhsS8aeEcGwd2ifv6aI4cEII5Dh3TDInI"
    "JvfkQMJyPkRKxqUbcOVpSdnb47oQndTSIVo2PSdJM1Qn5y0XCv+2OJ20jA8E6MAhow/RTX"
    "pk5z11HvwUr1htTDIwNre68Mk0kCeOqGK1a933ORzo/tUGlzhxfoJngerEm1pLSxEKQ7ne"
    "LYF9VU5bXfxUijDxWLjTp80MLHUWlpKJxWchV+XQ1piq1ghD96vOzyeEQ7E72PQhkrRNJG"
    "kc860ry2dREN1c6/jW215m5k7oRtb7ZzXm+2dl+z3YwcAO1pEd7C1TVnDb3Bw3sIHJwmaN"
    "DGCj+LkoDg9CqbkrrWLtkiQh+Rck4+JsMQpQgG+JHxe+loXUZpT7gTzKOz62oZwC3csbtu"
    "c9l6x1SzFe5SeJdl8KZ0xkboK5Dsx1D1WPbBM+eIi4QRO53SwhWvTmYMBw7egdzoFCUAhr"
    "F6exdNCttNf5LMosHRiKg8NEMVYX+csnozp1RN5vqJFMZEGjZlrJ5wW1FlF5ZoSRTaZUyv"
    "/sNtIJxshn4mocb4+8ULSJcnaSGs5IEoDuhVJApPawQpb48ghYVk36ew0clHnoBbFa0TjQ"
    "/tNgMTSY7g29cqbrkrvBgAy8PZkDAga64nYgu+3HaJNR7bPJndodNnZyxBtVL2FvWS9K/B"
    "pVjSrY0A61oR3IN3YsG9pmyJf4rXWRbUBGOsqgeo25AxbihXaOF4IU5X2nKFsOvif2RIpU"
    "rdgu4IHw+thYbNu6wzqPA4Ih6X4AVEPS/eHIh6T7g4h3kLZ8mLRlcK2Ba21nY98NJVxoYm"
    "60dpQMfpm74zqjX3xUWtSwB5sfmPYGYtobclCcwYRvCJYeW+1zCnMgI417PZxTyPSPe2S7"
    "kXjwDKvuWTTDdNdpPkbnCVatzliE4xUhtgwE4L0JwL/TmTLNZX1vu/A7F80ahpNdIIn4yU"
    "cSgzzxK8ZozrErj9NjrkWQRziKZaZx1BRhGfNFOGU2OrGwWKxszNGKYP6oHEXW+dO3157J"
    "H5QcPQn88SC0H42H80Cnix9cWOpe4EwWDw0aNwgzOTxvQOF5JYPnptbwAVkTZM0jlDWZF3"
    "pKQTO6UStl3mPHIYEQw0RLsLE+XHHNwyt5nvZEswhGAdbNZtg74w/1GMpjsVdD9aA21YMg"
    "8nSf8SCtw0CAZQgAgQAQ0Eketk7yOdIrKuudZ2+PG+gnUO8c9JjBy94PY+OFeuejonaoV+"
    "98HWW9U4g2iIkgjA+G5c2wbFEIXQEGtreP6TYl5/NAYBkSSHtOIIVi6R1IDGDuhGLpQ1sd"
    "D+gvOvQE795hBJXni8sjVJ4Hi+SeLZJvWOhFxJeMkcmdcZ0d0ora9GKADMjSc8SIS3alnK"
    "kqPp5n0sAsmZw5/VUWfq97IvX9UEwIG6/AjHk4M2ahh5ozXQBCGEGNDAO24v4DNdKD7pvK"
    "NhvEHnVofIdp/ITOxJxGUk6NkFNOLSR8qWCy2tu9BhzK192bVNOLVzv6v8ZATdub6dY4az"
    "I+z6rH51lpfN5hhwppjbOlrgyeR4IMfuijCeL+CN2AKux2TbpyDd1PX3YsizykroTzPivM"
    "CxrnfWZULG0eu42L3nuSUJNN4rx6kzgvbRKJcqlvp8kBYYs49LqSMRJozIk8ysw50b1gz4"
    "lNyLLVrChA4VCnY7de3iTWn1GlFXPdYrzdmjlJjUmQ+GW60ava0gh6b2n51tJ7s5+lQWMB"
    "BgEjA7YYlub9yOY4Ls8yUJkCjIWjXo2FAQuwM/EDpqrSXu2byaOONC4n0QIsmVKoQV4RZl"
    "LRiM648wifJO4nhy6pDn8q6JGOwAwVNqbOahcuCw84UkYtB9Nl6kArCOuMOQS7FeE3WVyB"
    "u6kA9jWldRWY5tvN6+vrt7nt5vVVQSR//9e715diP4/2HtGIBqSG1Iks2KS1lRdgQ8p0lS"
    "+ETFcwWO7fYBl6dsuezCOhJ4/Yxhaf9/wOO85VQJYjhY2t0GLc4EzopWg8EXvAEoxsYGQD"
    "I5vayDb0cMiHEa2XrEgep6qYgS2FHDcww0jurr6SkHbvdDWgDWiP6s96jR2y9gOyN0hsu5"
    "8pbosNICFfca74+m6tpJZ4Q/m6OYhqD1dUSzpbl+ccDLIuDM26eBAEQ7p4KxP2/isVHFxR"
    "675UASTd9zmzY57a13FV482a8Ps+JZz6Vlu6y1iTnNb7TxWczXR3rQ3ErEHc2a41xHAphS"
    "/QZu6Qcyuh1FMXpZ7AYGOwwSY/He4I91tmJOSgkJFwvLa3d8T3sfp87/TWuM7qtowbNTzd"
    "8NolKEGggCEW/SktBq8QdhELgyn7jji7H6N7ToOAuIi6KFiIxhy7Po4DVdgM3S9wgCwcij"
    "GMaFA+57DH92y3Cn7J7N62aCom2VdZz6VUfzoq8sJCa6Eo/uJxdkftpAJk8u9J8pMmULwa"
    "ilc/ZHVu7Q++JVqpi0Wcmfae7h3zXsjFlqUV25CBmMli9ynmiSFRL8wzg4EYzx1iPI+vQm"
    "3Hh38aYoMQTUNid2eF6HwVsIkdeto7Ux5l4gF8vVgjstKvRrhYBmWWRXHf59IyNyDftU7f"
    "ykCGtF8Zd/oW9iZTssB3lIWK8v81u1YRuE/7L2deZytvx9sXDqRwr/LtVC4TWYhJLp3O3A"
    "6J8aHEWL1xcIMCG++hbbzku0fF41r0Yh4JFt4Dd6RDsE/aVesrQKErD9yVUeYmsSdTLQUg"
    "jzJSIe3BLpUxcjc2TGUN4ybS2MdZdWX/QAtGC3AzyT1tIneKVjUaf0n25MSiHiWqQhh1sQ"
    "cZkJFc9nGCivh0ThSjs+446A2mA410UHtfL6pnVZjMjVDrewmTGRSlN5d/39RTupYm3l6/"
    "/z1tXuQZgmYepvAGFQYeSk/68oAy/W7MwECTOnAXzqhL/UWr2ViAQlcefQRbXVHdYpNxg4"
    "g2zbK6o88yVEwGmsmT1GXsWBp/5uOVL24ggq0FSpzSY4RFI+qi+wUVV6OMjyj+LI0XQJjL"
    "YDRK7HJwW69v6jjp9QFFne1olq+OJ9N0JRvsQ+7egnRcJVu618ghMqyLmBDiyt+mimKoKy"
    "qSQUFVkRyfidtfk88MCopUQujiUOxxUUSNyna8JQhHaTmGIBwN5mWSk7Lgf6VUmkHsL2Lk"
    "2aFFUzCPgULeoUL+ngV0Ri0s6f/AHGqtRgqdXNFqXKeWu5n2E28D2KqYv8GeP0b/hJQEaM"
    "FCLv7gRCq8fqQac+I5KySUqnuhG/uvIsU6OiBRDk0kBk24FEux1KDlHc7uywp5L28ARXzv"
    "iri8obNNp+3hNI4muzHsLbC37Ly3fAqnkv4p+Z1jN1DtK4UWtXvKPRFKTjDxU8hkLjHNc5"
    "kfy/GGPpM30iK7fsrj1B5rcWLTQKz4kUEWWxbxAhS/IlrqfRLbbwMJT83NymTm3l6k2GUK"
    "icrZ2rxfd9mBIAcZcpAHz3jDYtYNUpB3CKI7uIW0eztzskJpyKUZxFEmb4C4BOLSzuLSBe"
    "HUWqjEpOROrXiEN20GU0X5AYkQvemxlXbP6m2r2vBpyJZ1+uJFk/TkFy+q05PlvULSoefp"
    "kJg0N5PAZ43yu5/V5Hc/U1SbM9L3MXy7ykG3lx//Dw+FAIk="
)
