from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "coupons" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "template_id" BIGINT NOT NULL,
    "member_id" BIGINT NOT NULL,
    "status" VARCHAR(10) NOT NULL DEFAULT 'available',
    "terms" JSONB NOT NULL,
    "name" VARCHAR(40) NOT NULL,
    "valid_from" TIMESTAMPTZ NOT NULL,
    "valid_until" TIMESTAMPTZ NOT NULL,
    "source" VARCHAR(12) NOT NULL,
    "source_ref" VARCHAR(80) NOT NULL,
    "issued_at" TIMESTAMPTZ NOT NULL,
    "issued_day" VARCHAR(10) NOT NULL,
    "redeemed_at" TIMESTAMPTZ,
    CONSTRAINT "uid_coupons_templat_0801e8" UNIQUE ("template_id", "member_id", "source_ref")
);
CREATE INDEX IF NOT EXISTS "idx_coupons_templat_6289ac" ON "coupons" ("template_id");
CREATE INDEX IF NOT EXISTS "idx_coupons_valid_u_99171f" ON "coupons" ("valid_until");
CREATE INDEX IF NOT EXISTS "idx_coupons_member__639097" ON "coupons" ("member_id", "status");
CREATE INDEX IF NOT EXISTS "idx_coupons_templat_7e8cb8" ON "coupons" ("template_id", "member_id", "issued_day");
        CREATE TABLE IF NOT EXISTS "coupon_templates" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(40) NOT NULL,
    "description" VARCHAR(200) NOT NULL DEFAULT '',
    "status" VARCHAR(10) NOT NULL DEFAULT 'draft',
    "terms" JSONB NOT NULL,
    "total_stock" INT,
    "issued_count" INT NOT NULL DEFAULT 0,
    "per_member_limit" INT,
    "per_member_daily_limit" INT,
    "claimable" BOOL NOT NULL DEFAULT False,
    "claim_tiers" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_coupon_temp_status_afdb63" ON "coupon_templates" ("status");
        CREATE TABLE IF NOT EXISTS "points_mall_items" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(40) NOT NULL,
    "template_id" BIGINT NOT NULL,
    "points_price" INT NOT NULL,
    "active" BOOL NOT NULL DEFAULT True,
    "created_at" TIMESTAMPTZ NOT NULL
);
        CREATE TABLE IF NOT EXISTS "coupon_redemptions" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "coupon_id" BIGINT NOT NULL,
    "member_id" BIGINT NOT NULL,
    "store_id" INT,
    "channel" VARCHAR(16) NOT NULL,
    "order_id" BIGINT,
    "order_amount_cents" BIGINT,
    "discount_cents" BIGINT NOT NULL DEFAULT 0,
    "staff_id" INT,
    "status" VARCHAR(10) NOT NULL DEFAULT 'done',
    "reason" VARCHAR(200) NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ NOT NULL,
    "reversed_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_coupon_rede_coupon__a21e9a" ON "coupon_redemptions" ("coupon_id");
CREATE INDEX IF NOT EXISTS "idx_coupon_rede_member__f7997e" ON "coupon_redemptions" ("member_id");
CREATE INDEX IF NOT EXISTS "idx_coupon_rede_order_i_abd426" ON "coupon_redemptions" ("order_id");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "coupon_redemptions";
        DROP TABLE IF EXISTS "points_mall_items";
        DROP TABLE IF EXISTS "coupon_templates";
        DROP TABLE IF EXISTS "coupons";"""


MODELS_STATE = (
    "eJztXWtv2zi6/iuEv0wKuD1tmrQ5nYMFkk5mJjttU7Tp6WKLwqEl2tZGErW6JDUW/e9L6m"
    "LdKFmUJUuM3y+9SHwl+eHtea/8z8SiOjG9Z+eO8xdZT96g/0xsbBH2j8KdKZpgx0mv8ws+"
    "npthU3ZndkfW4UU893wXaz67vsCmR9glnXiaazi+QW3e+txGhu2TpYv5FaRh0yQuOqK2ad"
    "gEWey/U/Tx+vMUXX76+OQN8oyl7SGX/Dsgnu+hB8NfoT/fn799+vnP8+PTV8/4S3Wqsbca"
    "9rKn5we2wW7PfLok/oq47C3fvrPLhq2TH8RL/uvczRYGMfUcjIbOHxBen/lrJ7x2Zfu/hw"
    "35p89nGjUDy04bO2t/Re1Na/Zj+NUlsQn7SYQ/3ncDDqwdmGbcBwnW0ZemTaJPzMjoZIED"
    "k3cPly71TnIxA2h8SaM271n2NV74A5f8LU+PX5y8Pjl7+erkjDUJv2Rz5fXP6Oelvz0SDB"
    "H4cDP5Gd7HPo5ahDCmuIV/l5B7u8KuGLqkfQE89slF8BKo6tBLLqTwpYO5I/ws/GNmEnvp"
    "r9h/Xzx/XoPW/59/evvn+acj1uoJ/zWUTbBo5n2Ibx1H9zikKYRsSs5Ew68axFSiGxh7H4"
    "Q5EE+aYHhSDeFJCUGPaC7xZ8TWyijekB8VszgvpcqArMHu5vIfN/yjLc/7t5nF7Oj9+T9C"
    "OK11fOfd9Yc/kuYZjN++u74oYMv2CONeMMUvKDUJtsXQpkIFWOdMqi9cN4O2a1wvrq/f5X"
    "C9uCoC9+X9xSWb+CHIrJHhk+zymaLJRhz/1TPslxH9jd3xDYuIIc1LFmDVY9FnyT/GOXYn"
    "7Dfo17a5jnurbixfvb/8fHP+/mMO+N/Oby75nePcYE6uHr0qrBmbh6CvVzd/Iv5f9M/rD5"
    "chgtTzl274xrTdzT8n/Jtw4NOZTR9mWM+shsnVBJifnEws7jLbIr8wx9rdA3b1WekOPaZV"
    "bcu3rGOreAXbeBl2CweXf2ZC/QLd8N/RpZAWJvfqiSFvNTPjZluZ4dcVRbqho4cV9pFP2d"
    "+GtkIWsebEnUbMbE4W1CX/gxc+cX9FD67h+4TzPcR4GdJW2F6SXzwGLLY9vlZQu8wPe3tL"
    "xyzxwlg+IqL4v8fHL1++Pn7+8tXZ6cnr16dnzzeMsXyrjjpeXP3Bl7/cfNxOJ1k3UTdCSo"
    "IP5aVU2ckL1PJVE2ZZXOEyxPJVkRVFqMgxy6xMKxzjUTkYjK9OGsD46qQSRn6rTIDYF8mB"
    "GEv0NRR75efdQxgt2sKhWLd65sS2L6KtRqPCq2iKr49dtpdJL5sFMSXn+8vjBoP15XHlYO"
    "W3hGDKrZs5ISWB7H7WR+ysjOLfP19/EKOYShQg/GKz3/ZNNzR/ikzD87+PEtAaAPlvrlfN"
    "i1p4QUXhDyip5pz3yuC7EQB4G8Ab25olV4K8FCwFCpo9OuYEilg5EhzGaub47OPF4lzTaG"
    "D7E4GpI3d/Wmfu8HjLGY6aNvOGVXc2+Jz27nMKPOLK+p2yMio6Tbpfkx3seQ+UzcoV9lYy"
    "UJYE1TS4HJ+eNoCUtarENLxX4AzUlBqWSXs1IezFZgXeps68TT69I/bsnrie0IJVudeU5F"
    "oZX1rB+mLobUdV0gq+ulpfXS5cwKcuEap1lTMiK9KTJbLzDuxgOpSofwHEMoK/s6vG0v6L"
    "rEMgr9gnYVsTLc4b2h4/Z3QA/kwGQXI1/QoXP2z4fG5ssN/HfhWJFuRPbKB+unrLgBxKY+"
    "LQClWlGPM6HYnyCTcF3Ugt3UhjXSlDQJP2KupE3dv+IZpx52hGYPAQLwYcdFdDapZn4cVC"
    "MJ1isd//+kRMXBFvUGEZVYZp/eyTHV3pxHKoT2xt/Ylo1M3zj8pGtazJSJvP3LB9DxTq28"
    "TTaOSyvyPryXcIXhtJ8NqmW5rSh42AovzhuBF/OK7hD8eibAgZCOPmagLYjwk6dkDLmvWL"
    "cmpC2r2fhG3AvtysTgT2hyC7OVuYxnIVLs4dTe5Gc7tmapcHpuewN5IZByjwJPR7geQBGe"
    "GEGM6pLlgnq5OdSoKKRKbsO91pg5NsMGVJUBGA92ASMKl2xzRRpn0YpqwaW5RVU5FVRHGt"
    "DAHK9ib54RjscS1MEnlJiOUauCMP27akek+OJCrvLd/zbL/agpJvMK2znmhRUynLyeTccY"
    "itP6W2uUYrg7ut1oguELkn7B9LF9s+wrYe5gvqLn7AJjr6ePXx3RNBQYpdngRJheO1ywyW"
    "fjRAJtcg+Uc81dYmAm5X43dMRdQ0NJw14MlnlSz5rBSNGbhsV5DSODIiakLYvYkhXKWJaJ"
    "7XeR8zUnt0P/ZGXzp0P3o0cDU549dGQs0x2UM+IfnhV8dg1qQUFuSUtCd0DydoLaC17K61"
    "BIzeW+Ew+Y0sJiK1Jd9iWqu3hG3jTmE93bzAHtYtw37KRAyb6Mhx6cIwCQof9Cu6x2ZAPG"
    "Qa94TXNLm9fR8S0mfZ13m3t+jIpsgykjp6DnGjB4g0nH28EYL+9h70N6TPVPXaceyHyWku"
    "GwE1CU73DlJZT8lODpLB8etY7+Ned8OVVlmyYnvUWWSjl4aJmVxRQyMC/3J1YYSMCJRGKF"
    "A9UWmEzIxovmHnhQ7UgQ/h0RAeDcrgqJTBSMmZCJTA+M60TvmLvAQjy5QC91H37iObypDc"
    "nJCKmlaj2N6a0N5yZG9V2F99JKUw3K8zXaEEYWavHamPwyIuW8Zm7HW0hUuzKKsWDduzX9"
    "Nh0BDZsvI5IUWM9vuOsowwMrHnn0h5PPNiioBbsGA1MWBV269KfuMQEsclC+PHS3ksM4JK"
    "ovmyiXup2rtUyv81tDvpHOCMjJIYdm8RZD9YF1WmrAYxldhj0kRg3zF1xO5sr+/YNDg3XH"
    "+lY4Fpn6u2YhyzMnVK7SiHZQ18XEctwEMsLAonrx5jGwElZ+nxaZNpylrV5IqV63JmHXtS"
    "BtOiYAdm03aT+P8WgR3WW0fzwDB9w/ae8df+bYdZvW9rKtuDieticyZbvKMkqKKi2UeiGY"
    "elRcRnQRBKzlerRi5ZGvwr+NfOWsR/Vsmr6RTsvhBiDp8WBcsq5dVS+DtMnOR4ELeVs6Ak"
    "DP6CoZOXcuPbJdwLsEPXip/TQS+PikQr18lRKb023ZqXhI4cuCMDR2/pp81Lwro7cj9t1i"
    "1JbN/wDVEgjkzxqsgHexU9bT3qDt5v/aoImDi9clLpvU4aTLc7sWdxAmbD+OUbfshiwPQl"
    "20dhzZMwEvgoOaExJvVTFOcpPZmiO+L40cmN/IDGJMfSsBG1Sf1hkD2/S1hlK5f/l1VR4r"
    "wrKLw1Mg/9KBM8H4cnFDI8IcOzBYSQ4dkLa4QMz1GlJEKGZ6dwgrJ4IMpi/9rR5X2tbhTd"
    "njbQjMi9nF4UiSE+zEzDJm/iKjI6tVhHx0fTIxwWnPG4RjLdemp9SR3q/hXbg5ALShH7kz"
    "X4tsnoygTVfwdtCLShx6oNHVbGY/c5twNok0PTpO49xHCKVRs/sIPXJsUC0KpjnTIiEOXU"
    "PsoJcvWA1ndE6zfeoEpmn/UXbSX3eVfVdoJ/bRP0gNfIp4iXqlzahseYdkzIn6FLrK3Q0R"
    "0bS1POv6dRWZUnaE5Mai89LoZ9ZLFOCX0RsViJ4/f2FqGzgz8oBiveIMLngZNjNLQ+6aGm"
    "jClprybp7N5ynI7spgimEntMSthhR++btkcrggSAGwFVx2ATFxBrVTMKS24goEEq06B8Ii"
    "7YWbrfAktEswh4GW3pM4fTug7jQ7oqlmhaOHU4N4xyxw6/Pf/89vy3y6FOHY7Afc8zzSeV"
    "/Dy63YSchynrkhUVUSj0Bt3eRgnvt7doQU2d6IhnvrPLXuDeG/fUvb19hr7YOifIYdn3+Z"
    "oxbJs8RA9AUSH66jqKPbwHCoGMl4EnvSm95BcEoZZ8jW09KVHRsrIFALwNYLaCVgzhGk0o"
    "I6Ok+b37HHeL3ovCkKrNyBsBMCKDEfkwtaeRGJE/kQX7IasbekdsEUXN3a/lqG7UktE11h"
    "RqwKm+SVZTv7CDpY/UzUupmJzfw3G6wfxfRBMs3zURp6nI3urAjTuAQq0zGGEbrMmM9NpF"
    "unqQ3DqWLgROqnJPjoSTfiVs//PPNY0G4ojlfINaVvpANNZ0hqO2TW2nKHoDYkuLy8+9pI"
    "GLLMM2njouXbrYmqKwWhpauNRCvODQsUc8nrowjdIsqRv+TQN/E6WA1sQXWE/7fJMwuCF1"
    "5FKH2DxqGYj1SIi1Gl75cbPBeFBLYJhKqIlh92pJwK1wciBmRMAmGv3uaJme3ZG1bNVkga"
    "gioNYRoD5qJw8WdnAgle2AzqtM5yGR9LH05EgUs3d0jU1/XaOZFVpM61QzM2orqZtdbwK4"
    "f/HQHJs8usl7g7D5gNdemNPpBZbHVSn2b8NFJtGXxPXQEbb1+Gp0qKdJfW+KFkyBcigfJ4"
    "IzQnt+1w5OjvHE2x2GahZ12yweA3Kgl2X3F+n4XA3gS0DrZC7YqBqgnAgCxNUQs2/SDIeX"
    "yk4S+SVgLgsD1JVQz6kdeG1gLggCxNX550ZYrE+uWHxOSBHduu8jyUJMPEO4vdVrCHlJ8M"
    "ENrOpVVl+qW3CqSy/BYgNa9OOYJOPSoj9GDr5JtRadtJg20aKdTOOGZZlcXkjEZ6pt/Azk"
    "BiZh2itfz5m6SrBrR5fYv3mozHqKQl5CvCcIh3WUeKK1EQ5sxIZPYDG+UlWgqb+XdRwruL"
    "M/c0Ra846lQqr1YX6jDF11wHfSHuK928d7w+YDm8/Om8+1q4vP945u1G41lDfpIbL7W7ai"
    "VfgSflZ0MS6lUG/PMbEG5fUGNoseYins7quXbYa8BIxZGTVx7CENDaIBetV+ocpeu9PW2J"
    "d7vnTCTFEOZnkcJWlxb3Ebo3pREgqO1M123fC0tkiXZcGouM3l6TlxAW5pn+dGEkDeBnJY"
    "hauV31MoD4A38DKHw3M3X3PhEQD7Fo9za8iF4gB3JdzcbD2bY6/VmiIQBqi3reAcNFGxkQ"
    "aLdyoKMNccZr4IbH7ub4sBXZYFoLeNZ5cfVeK1HNFZYYB6O9ShOaIt1KkwQN2A9iWA7cb8"
    "yk8B8LeQv12Ar3oCgF5jFcV+IIC5pobLRmKPtbQjf9kO7u6+4w8Nn1gCGKtjCjYCYwoq4C"
    "9UKajAJRphXymDe0ZkTMirFs6ROrBL2NdHc+QEIZhj6HBbyJFVuSdHEpbzMVQyLm3fFR7k"
    "k709rQvRSSwdrGXTI3wkQ3Vy3nKm8G+L00kqzECADpx/+RjdpAd2FFHnwU/RitXGJANjc6"
    "sLn8x9fhiGKFa71n2fkwPdv9rgEuV0z/DCFx3GUmtpKYrCUK53S2BPlNNWFz+VSKh4Ytnx"
    "82YGljoLS8nE4tHAFaV31piqNhKK7ledH50H5zV3sOlDJGmbSNIo5luWy2elILq51vEtt7"
    "0s1J3Qjaz3L2rM9y/K9nuwg4EdrCM72DsqLC6W3pw2sIHxmluNDGCT6LkoCg9CibkrKbBs"
    "kzgh+VfE4+J0NgqQj++IF9Vk5jW+Fobr+fyU6ehEgXIKdC9v2J73XLLWWWy88k9i7b4Vjj"
    "/I3ARzHZjrHqse2SZ8cIi4QRWxTZcQKXhzYoBw7egdz1k3UKNpF6cxd9Ctpdf5rJRaOjDU"
    "rYaJoqwu8sUjkzp1hN9vqJHMeEGjZlrJ15WhrcLKwQgjncwNzv/pXagTTJFH2dUo3h45AW"
    "sT5uzE5YURBwA9MKWAcO1hjTT25aFgWTXp7zVwhuPQC2K1ojHQ/tNgMVQY7hRePtNlwU1l"
    "gANvT+aAgIGusB3Jbvsp3GRE+2x8p3aHjZwc0UbVS9hb1osSvUZUowo2tKE2tIF8Y4eyoa"
    "VDvoRvrYssFVLSUQbVa9QdsBAvtHO8EKQo7ztFWTPxA9FnnFK1QrsgD4DXx8ZiXZcd1nk5"
    "ABiS7kcANSTdDwc+JN0PQu8gbXmYtGVwrYFrbWdj341BXKaJ2eHaUTL4Ze5O64x+0SleYc"
    "MebH5g2huJaW/MQXEKA54CzD220kfo5YSUNO71cIQelT+JkO4G4uAZVt2jqIbprtN8jM4T"
    "rCyGSOBKHlScEQLVA2LLgAD3S4D/MBbCNJfNve3kd8maNQwnO0dc4hcPcRnksF8xRUsX2/"
    "w4PWprBDnEjQ+7n4ZNET/Enl00qI6ONMwWKx27aE2w+6QcRdb507fXnsmf4Rs+CfzxQNoP"
    "xsM50MHXg5Ol7glnvHhIwJhKqInhWQMIzyoRPFO1hg9wTeCaB8g1qRM4QqIZ3qhlmQ/YNI"
    "nPaBhrCTbWx0vXHLzm52nPJItgFMS62Qx7R/yxHkN5KPZqqB7UpnoQRJ7uMx6kdRgIoAwB"
    "IBAAAjrJ49ZJvoZ6RWW98+ztaQP9BOqdgx4zeu79ODZeqHc+KWqHcvXON1HWO4VoA00EMj"
    "4alNNh2aIQukAY0N4+ptuUnM8LAsqQQNpzAikUS++AMYC5E4qlj211HNBfNPQE795hBJXn"
    "i8sjVJ4Hi+SeLZJvaeCEwJeMkfGdaZ0dUgvb9GKA9InlmGzExbtSzlQVHc8za2CWjM+c/s"
    "4Lv9c90fC8gE0IHa/BjDmcGbPQQ82RLghCGEENhwFbcf+BGslB9025TSqxRx0a32MjekJn"
    "NKcRy6khOeXUQuJaAiSrvd0bgaF83b2xml682uHfEgM1aa+mW+Okyfg8qR6fJ6XxeY9Ng7"
    "E1l1qyHDwvCRx86KMJov4IbN8Q2O2adOVGdD992TEXeUxdCed9VpgXJM77zKhY0jh2Gxe9"
    "9yShJpvEWfUmcVbaJGLlUt5OkxOELWLodSVjJJCYE3kpNedE98TeJTohVqtZURCFQ50O3X"
    "p5E1t/JpVWzE2L6XZr5iwxJkHil+pGr2pLI+i9peVbSu/NfpYEjAUxCBgZscWwNO8nuouj"
    "8iwj5RRgLJz0aiz0qY/NmedTUZX2at9MXupA43JiLUDjKYUS4BXFVCoa0Rl2DnFnsfvJNC"
    "xDBj+R6IGOwAwUOjbM9S5YFh5woIhqJjasxIFWIOuUmgTbFeE3WbkCdnMm2NeUllVgmm83"
    "F9fX73LbzcVVgZJ/+PL+4pLt5+HewxoZPqkBdcYLNklt5QWxMWW68hdCpisYLPdvsAwcvW"
    "VP5iWhJw/Yxhad9/wem+aVT6yJwMZWaDFtcCa0xRrP2B5ggZENjGxgZBMb2cYeDvk4ovXi"
    "FclxDVHMwJZCjqmYYiB3V1+Jsd17WQ0oFdqj+rNZY8es/QD3Bsa2+5niOtsAYvAF54pv7t"
    "Yytdgb6m6aA1V7vFQt7mxZnHNikHWhaNbFowAY0sVbmbD3X6lgcEWt+1IFkHTf58yOcGpf"
    "x1Usr9aE3/cp4YantYW7LKuS03r/qYKLheyulYqoNYg727XGGC4l8AXq1B5zbiWUeuqi1B"
    "MYbBQ22OSnwz1xvZYZCTlRyEg4XNvbOXENbTUR2N3iO9M6mxtO24zGzvaIjGw7EpBq8xmf"
    "/pKh8BkRNdXo49PTJtvp6Wn1dsrvFbxJjiMDYtxcTQBfNOIjL2r4yAsBH6G2T0QhxjWhc6"
    "kIxMEXt6MkQG7Q7eXnfwF/ejkr"
)
