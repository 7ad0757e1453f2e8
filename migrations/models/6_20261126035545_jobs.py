from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "job_runs" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "job" VARCHAR(60) NOT NULL,
    "period" VARCHAR(40) NOT NULL,
    "status" VARCHAR(10) NOT NULL DEFAULT 'running',
    "cursor" BIGINT NOT NULL DEFAULT 0,
    "counts" JSONB NOT NULL,
    "error" TEXT,
    "owner" VARCHAR(40) NOT NULL,
    "attempts" INT NOT NULL DEFAULT 1,
    "heartbeat_at" TIMESTAMPTZ NOT NULL,
    "started_at" TIMESTAMPTZ NOT NULL,
    "finished_at" TIMESTAMPTZ,
    CONSTRAINT "uid_job_runs_job_17e46d" UNIQUE ("job", "period")
);
COMMENT ON TABLE "job_runs" IS 'One run of one job for one period: the guard against running twice and the resume point.';
        CREATE TABLE IF NOT EXISTS "lifecycle_programs" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "key" VARCHAR(40) NOT NULL UNIQUE,
    "data" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "lifecycle_programs" IS 'An admin''s settings for one built-in lifecycle program (defaults in code until saved).';
        CREATE TABLE IF NOT EXISTS "touches" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(64) NOT NULL,
    "status" VARCHAR(10) NOT NULL DEFAULT 'draft',
    "audience" JSONB NOT NULL,
    "channels" JSONB NOT NULL,
    "template_key" VARCHAR(40) NOT NULL,
    "coupon_template_id" BIGINT,
    "schedule" JSONB NOT NULL,
    "cap_behaviour" VARCHAR(8) NOT NULL DEFAULT 'drop',
    "attribution_days" INT NOT NULL DEFAULT 7,
    "holdout_pct" INT NOT NULL DEFAULT 0,
    "expires_hours" INT,
    "last_period" VARCHAR(40),
    "event_cursor" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "started_at" TIMESTAMPTZ,
    "finished_at" TIMESTAMPTZ
);
COMMENT ON TABLE "touches" IS 'A marketer''s touch (触达): who, through which channels, what, when, and how it is judged.';
        CREATE TABLE IF NOT EXISTS "touch_recipients" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "touch_id" BIGINT NOT NULL,
    "member_id" BIGINT NOT NULL,
    "period" VARCHAR(40) NOT NULL,
    "grp" VARCHAR(10) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_touch_recip_touch_i_7211b3" UNIQUE ("touch_id", "member_id", "period")
);
CREATE INDEX IF NOT EXISTS "idx_touch_recip_touch_i_8d16a8" ON "touch_recipients" ("touch_id", "grp");
COMMENT ON TABLE "touch_recipients" IS 'A member a touch chose in one run: treated (a message, maybe a coupon) or held out for comparison.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "touches";
        DROP TABLE IF EXISTS "touch_recipients";
        DROP TABLE IF EXISTS "job_runs";
        DROP TABLE IF EXISTS "lifecycle_programs";"""


MODELS_STATE = (
    "eJztXWtz2ziW/SsofYlTpWQSJ3F70ltb5aQz3ZlO4qzj3kxNNiVDJCRxTBEcgLSimur/vg"
    "AfEh8gRUikSNj3Sx4ELkkdgMC5T/xntKQ2cfnTC9//naxHr9F/Rh5eEvGPQssYjbDvb6/L"
    "CwGeulFX0TK5JevoIp7ygGErENdn2OVEXLIJt5jjBw71ZO8LDzleQOYMyyvIwq5LGDqhnu"
    "t4BC3Ff8fo8+WXMXp39fnxa8SduccRI/8OCQ84WjnBAv328eLtky+/XZy+OnsqH2pTSzzV"
    "8eYd3T/0HNE8CeicBAvCxFO+fReXHc8mPwhP/+vfTmYOce0cjI4tbxBdnwRrP7r23gv+Fn"
    "WUrz6dWNQNl962s78OFtTb9BY/Rl6dE4+In0Tk7QMWSmC90HWTMUixjt902yV+xYyMTWY4"
    "dOXwSOnS6KQXM4AmlyzqyZEVb8OjHziXT3ly+vzlTy/PX5y9PBddojfZXPnpz/jnbX97LB"
    "gh8Ol69GfUjgMc94hg3OIW/V1C7u0CMzV0af8CeOKVi+ClUNWhl17YwredzC3ht8Q/Ji7x"
    "5sFC/Pf5s2c1aP3vxdXb3y6uTkSvx/LXUPGBxV/ep6TpNG6TkG4hFJ/kRDX9qkHcSrQDY+"
    "eTMAfiyyYYvqyG8GUJQU4sRoIJ8awyitfkR8VXnJcyZULWYHf97h/X8qWXnP/bzWJ28vHi"
    "HxGcy3XS8uHy069p9wzGbz9cvilgK/YI507xib+h1CXYU0O7FSrAOhVSXeG6mbRt4/rm8v"
    "JDDtc374vA/fHxzTvx4Ucgi05OQLLL5xZNMePkr57goIzoL6IlcJZEDWlesgCrnYg+Tf8x"
    "zLk7Er/BvvTcdTJadXP5/cd3X64vPn7OAf/LxfU72XKam8zp1ZOzwpqxuQn6+v76NyT/i/"
    "55+eldhCDlwZxFT9z2u/7nSL4TDgM68ehqgu3MapheTYH5U5KJ2W1mW5QXpti6XWFmT0ot"
    "9JRW9S03LU+XxSvYw/NoWCS48jVT6hfaTvCBzpW0MG2rJ4ay18RNuu1khl8XFNmOjVYLHK"
    "CAir8da4GWZDklbBwzsymZUUb+gmcBYT+jFXOCgEi+hwQvQ9YCe3PyiAtgscflWkG9Mj/s"
    "7Ckts8Q3zvweEcW/np6+ePHT6bMXZ+evXv7006vzZxvGWG6qo45v3v8ql7/c97ibTophoi"
    "xGSoMP5aVM2ckL1PKsCbMsrnAZYnlWZEUxKnrMMiuzF47JrOwNxrOXDWA8e1kJo2wqEyDx"
    "RnogJhJdTcVO+Xn7EMaLtnIq1q2eObHdi+hes9HgVXSLb4CZ2Mu0l82CmJHf+4vTBpP1xW"
    "nlZJVNSjD11s2ckJFAtv/Vx+ysjOLfv1x+UqO4lShA+Icnfts327GCMXIdHnwfJKA1AMrf"
    "XK+aF7Xwgooib1BSzSXv1cF3IwDwNoA3sTVrrgR5KVgKDDR7tMwJDLFypDgM1czxJcCz2Y"
    "Vl0dALRgpTR659XGfu4LLnBMddm3nDqgcbfE5H9zmFnDBdv1NWxkSnSftrso85X1HxVS4w"
    "X+hAWRI00+By+upVA0hFr0pMo7YCZ6Cu1rRM+5sJYSc2K/A2teZtCugt8SZ3hHGlBatyry"
    "nJ7WV82QvW531vO6aSVvDV1frqcuECAWVEqdZVfhFZkY4ska0PYAufQ4n6F0AsI/g3cdWZ"
    "e7+TdQTke/FK2LNUi/OGtif3GRyAf6aTIL26fQuGVxs+n5sb4veJX0XiBflKTNSr928FkH"
    "1pTBJapaqUYF6nI1H5wY1BNzJLN7LEUOoQ0LS/iTpR+7Z/iGY8OJoRGDzEiwEHPdSQmuVZ"
    "eDZTfE6J2N9+vyIurog3qLCMGsO0/uySHb23ydKnAfGs9RWxKMvzj8pOtazJ2XafsKh/Bx"
    "Tq24hbNHbZ35L16DsErw0keG0zLE3pw0bAUP5w2og/nNbwh1NVNoQOhEl3MwHsxgSdOKB1"
    "zfpFOTMhbd9PIjbgQO+rTgWOh6BonMxcZ76IFueWPu5G33bNp12emNwXTyQTCVDINfR7he"
    "QDMsIpMZxSW7FOVic7lQQNiUw5drrTBifdYMqSoCEAH8Ek4FLrVmiiQvtwXF01tihrpiJr"
    "iOJaGQKUHU3yw3fE7fYwSeQlIZar54F82LYl00dyIFF5b+We5wXVFpR8h3Gd9cSKu2pZTk"
    "YXvk88+wn13DVaONJttUZ0hsgdEf+YM+wFCHt2lC9oM7zCLjr5/P7zh8eKghSH3AmSCodr"
    "l+kt/aiHTK5e8o9kqq1HFNyuxu+4FTHT0HDegCefV7Lk81I0ZsjErqClcWREzISwfRNDtE"
    "oT1Xde533MSB3R/dgZfWnR/chpyCw949dGwsw52UE+IfkRVMdg1qQUFuSMtCe0DydoLaC1"
    "HK61hILeL6Np8guZjVRqS77HuFZvifomgyJGunmBPWwvHe+JEHE8YiOf0ZnjEhTd6Gd0h9"
    "2QcOQ6d0TWNLm5+RgR0qfZx/GbG3TiUbR00jp6PmHxDVQazjGeCEF/Rw/669NnanrtOPHD"
    "9DSXjYCZBKd9B6mup+QgB0nv+LWs90mvu8O0VZas2BF1Ft3opX5iJhfUsYjCv1xdGCEjAq"
    "URClRPVRoh80U037DzQg/UgQ/h0RAeDcrgoJTBWMkZKZTApGVcp/zFXoKBZUqB+6h995FH"
    "dUhuTshETatRbG9NaG85srcq7K8+klIZ7tearlCCMLPXDtTHsSRMLGMT8Ti6h0uzKGsWDT"
    "uyX9MX0BDdsvI5IUOM9seOsowxcjEPXmp5PPNihoBbsGA1MWBV269KfuMIEp+RmfPjhT6W"
    "GUEj0XzRxL1U7V0q5f861q12DnBGxkgM27cIih9sqypTVoO4lThi0kTo3Qp1xGttr2/ZND"
    "h1WLCwscK0L1VbNY5ZmTqldpDTsgY+qaMW4CFLrAonr55jGwEjv9LTV00+U9GrJlesXJcz"
    "69jTMpgWBVswm+73Ef/XLPSieutoGjpu4Hj8qXzsfx/wVR/bmir2YMIYdie6xTtKgiYqml"
    "0kmklY9oj4LAhCyflq1YiRuSPfQr7tZI/4zyp5M52C7RdCzOGzR8GySnmzFP4WEyclHoTt"
    "5SwoCYO/oO/kpdz8ZkR6AQ4YWvV9WhjlQZFo4wY5LqW3z7DmJWEgex7I0Lf39NPmJWHdHb"
    "ifNuuWJF7gBI4qEEeneFXsg30f32096AE+bv2qGJgkvXJU6b1OO4x3O7EnSQJmw/jla3nI"
    "Yij0JS9AUc2TKBL4JD2hMSH1Y5TkKT0eo1viB/HJjfKAxjTH0vEQ9Uj9YZAdP0tZZSuX/5"
    "dVUZK8Kyi8NTAP/SATPO+HJxQyPCHDcw8IIcOzE9YIGZ6DSkmEDM9W4QRl8YEoi91rR+/u"
    "anWjuHncQDMid3p6USyG5DRzHY+8TqrI2HQpBjo5mh7hqOAMlxrJeOep9SV1qP1H7A5CLi"
    "hF4k/R4dsmoysTVP8dtCHQhu6rNvSwMh7bz7ntQZvsmya17yGGU6z28QP7eO1SrACtOtYp"
    "IwJRTvtHOUGuHtD6lmj9xhtUyeyz/qKd5D7vqtpN8C89glZ4jQKKZKnKuedwwbQTQv4Uvc"
    "PWAp3cirk0lvx7HJdVeYymxKXenEsxHKClGJTIF5GIlTh+Z09ROjvkjRKwkg0iuh84OQZD"
    "69MRasqY0v5mks72Lcfbmd0Uwa3EEZMSDtjRu6bt8YqgAeBGwNQ52MQFJHrVzMKSGwhokM"
    "k0KJ+IC3aW9rfAEtEsAl5GW/vM4W1dh+EhXRVLNC6cOpybRrljh99efHl78cu7vk4djsH9"
    "KDPNR5X8PG5uQs6jlHXNioooEnqNbm7ihPebGzSjrk1sJDPfxWUesjvnjrKbm6foD8+WBD"
    "kq+z5dC4btkVV8AxQXoq+uo9jBc6AQyHAZeDqa2kt+QRBqydfY1tMSFXtWtgCAdwEsVtCK"
    "KVyjCWVkjDS/t5/jvqR3qjCkajPyRgCMyGBEfpja00CMyFdkJn7I4preEk9FUXPttRyVxT"
    "0FXRNdoQac6ZtkNfWLBlj7SN28lInJ+R0cpxtO/0UsxfJdE3G6FTlaHbhhB1CYdQYjbIM1"
    "mZF8v0hXDsmtQxlC4KQmj+RAOOlXIva/4MKyaKiOWM53qGWlK2KJrhMc921qO0XxE5BYWp"
    "g895KGDC0dz3niMzpneDlGUbU0NGN0iWTBoVNOuExdGMdplpRFf9Mw2EQpoDUJFNbTLp+k"
    "DG7YOnKpTzwZtQzEeiDE2gyv/LDZYDKpNTDcSpiJYftqSSitcHogZkTAJhr/7niZntyStW"
    "7VZIWoIaDWEaAuaif3FnbwQCrbAZ03mc5DIul9GcmBKGYf6Bq7wbpGMyv0GNepZm7cV1M3"
    "u9wEcD/iaIpdGd3EXyPsrvCaRzmdPFxyqUqJfzsMucSeE8bRCfbs5Gp8qKdLAz5GM6FA+V"
    "TOE8UZoR0/6wAnx3Di7R6GahYP2ySZA3qgl2WPF+n4zAzgS0DbZKrYqBqgnAoCxNUQi3ey"
    "HF+Wyk4T+TVgLgsD1JVQT6kX8n1gLggCxNX5505UrE+vWHxOyBDduusjySJMuKPc3uo1hL"
    "wk+OB6VvWi4VgSzEOmyVSKkrDsVC47lSWu6vCtrm8F0IKp4n6sRMMyVXyOvaijalNF2mPc"
    "xFThZzo3rH3FZLWW4BFHyT0QC13C0Ylca/kYEcy8+JL4t4xHWo9RRP4If4xwVKxKZrM70c"
    "RGYvqES0EKq6pgdfewlgMyD3YaD8g0cWA9lmqjg2woQ1cdVZ/2h6D6/YPqYfOBzefgzeeS"
    "2epD1OOG2q2Gyi4dhM9/y5YNix4iD+QuBv8Uihr6LraghmHPtueHWG+8/RJxmymvAWNWxk"
    "wcO8j1g5CLTrVfKGW435F24s15oJ2VVJSDrzwJRV1Kl/w+nouiJFR1qfvabYdb+yJdlgWj"
    "4i6/MveTKufajuWNJIC8C+So1NlezmWlPADewJUfTc/DHPqFWwDsO9z6e0OuFAe4K+GWZu"
    "vJFPO91hSFMEC9awWXoKkqujRYvLeiAHPNifGz0JOHK+8xocuyAPSu+czkeTB8zxmdFQao"
    "d0MdmSP2hXorDFA3oH0pYIcxv/JdAPwd5O8Q4KvuAKDXWEVxECpgrimUs5E4YsHy2F92gL"
    "u76yBPJyBLBYzVMQUbgSEFFcgHmhRUwIhFxFvq4J4RGRLypoVzbB3YJezrozlyghDM0XdM"
    "MyQimzySAwnL+RwpGe+8gClPS8o2j+tCdFJLh+jZ9JwkzVCdnLdcKPy74nTSMj4QoAOHjN"
    "5HN+kDO++p9eCneMXaxyQDc3OnC59MA3niiCpWu9Z9n5MD3b/a4BInzk/wLFCdeFNraSmK"
    "wlSud0tgrsppq4ufSiVMPBbu9FkzA0udhaVkYuE0ZKoc2hpT1UbC0P2q9fMJ4VDsFjZ9iC"
    "TdJ5I0jvnW5fJZKYhurnV8620vM3M/6EbW++c15vvnZfs92MHADtaSHewDVVZw2zaOG9jA"
    "ZGGzRgawUXxfFIcHodTclVax9kiSkPwzknFxtpgFKMC3hMeFr2UhtZnDeCCP8o6PbSinQH"
    "fyhN15zyVr3VLMV/lKot+3whkTmUYw14G57r7qkfuED/YRN2gittslRAvenBggXDt7h3Og"
    "EBTCOsRpLB10a+11Pitllg4MxcHhQzFWF/mDk1GdOiLbG2okE1nQqJlW8nXhWIuoPDPCyC"
    "ZTR/J/ehvpBGPEqbgax9sjPxR9opydpIYzkgCglVAKiNQe1sgSbx4JllWT7h4DB2X2vSBW"
    "Kxo97T8NFkOD4d7CK790XXC3MsCBdydzQMBAW9gOZLe9ijYZ1T6btNTusLGTI96oOgl7y3"
    "pR4seoalTBhtbXhtaTb+yhbGjbKV/Ct9ZFthUy0lEG1WvMnbAQL3RwvBCkKB87Rdly8YrY"
    "E0mp9kK7IA+A18fGYtvWndZ5OQAYku4HADUk3fcHPiTd90LvIG25n7RlcK2Ba+1gY9+1Q5"
    "jQxLxo7SgZ/DKt4zqjX3xUWtSxA5sfmPYGYtobclCcwYBvAZYeW+1zCnNCRhr3OjinkOof"
    "90gPA7H3DKv2UTTDdNdqPkbrCVZ7nbEIxytCbBkQ4KMR4F+dmTLNZdO2m/zORbeG4WQXSE"
    "o84kjKIF/8ijGaM+zJ4/SoZxHkE4ZizjSOuiIsY74Ic6iNTiwsFisbM7QmmD0uR5G1fvfd"
    "tWfyByVHdwJ/PJD2B+Ph7Ol08d7JUvuEM1k8NGDcSpiJ4XkDCM8rETw3tYYPcE3gmg+Qa1"
    "I/9JVEM2qoZZkr7LokEDRM9AQb6/2laz5ey/O0J5pFMApi7WyGnSN+X4+hfCj2aqgetE/1"
    "IIg8PWY8yN5hIIAyBIBAAAjoJPdbJ/ka6RWV9c6zzeMG+gnUOwc9ZvDc+35svFDvfFTUDv"
    "XqnW+irA8K0QaaCGR8MChvp+UehdAVwoD27jm9T8n5vCCgDAmkHSeQQrH0FhgDmDuhWPrQ"
    "Vsce/UV9f+DtO4yg8nxxeYTK82CRPLJF8i0N/Qj4kjEyaRnX2SGtqE8nBsiALH1XzLhkV8"
    "qZquLjeSYNzJLJmdPfZeH3ujs6nIfig7DxGsyY/ZkxCyPUHOmCIIQR1HAYsBV3H6iRHnTf"
    "lNtsJY6oQ+M77MR3aI3mNGI5NSSnnFpI2FKBZLW3eyPQl6+7M1bTiVc7+ltjoqb9zXRrvG"
    "wyP19Wz8+Xpfl5h11HsDVGl7ocPC8JHLzvowni8Qi9wFHY7ZoM5Ub0OGPZMhe5T0MJ531W"
    "mBc0zvvMqFjaOLYbF330JKEmm8R59SZxXtokEuVS306TE4Qtou91JWMk0Pgm8lJmfhPtE3"
    "tGbEKWe30VBVE41OmhWy+vE+vPqNKKuekx3m3NnKTGJEj8Mt3oVW1pBL23tHxr6b3Z19KA"
    "sSAGASMDthiWvvuRzXBcnmWgnAKMhaNOjYUBDbA74QFVVWmv9s3kpR5oXE6iBVgypVADvK"
    "KYSUUjWsPOJ2ySuJ9cZ+no4KcSfaAzMAOFjR13fQiWhRs8UEQtFzvL1IFWIOuUugR7FeE3"
    "WbkCdlMh2NUnravANN9u3lxefshtN2/eFyj5pz8+vnkn9vNo7xGdnIDUgDqRBZu0tvKC2J"
    "AyXeUDIdMVDJbHN1iGvr3nSOYlYSQfsI0tPu/5I3bd9wFZjhQ2tkKPcYMzoZei80TsAUsw"
    "soGRDYxsaiPb0MMh70e0XrIi+cxRxQzsKOS4FTMM5PbqKwm2e6erAW2Fjqj+bNbYIWs/wL"
    "2BsR1+prgtNoAEfMW54pvWWqaWeEPZpjtQtftL1ZLB1sU5JwZZF4ZmXdwLgCFdfC8T9vEr"
    "FfSuqLVfqgCS7rv8smOc9q/jqpY364M/9inhDrf2hbssa5LT+vipgrOZ7q61FTFrEre2aw"
    "0xXErhC7SpN+TcSij11EapJzDYGGywyX8Od4TxPTMScqKQkfBwbW8fCedYfb532jSus7ot"
    "404NTze89AhKJFBAEY3+Ky0GrxH2EA2DKf2BGF2N0Yo5QUA85HgoWIjODHscx4EqdIZWCx"
    "wgC4diDiMnKJ9z2OFzdlsFv2V2b1t0FR/Zd1nPpVR/OiryQkNroSj+4jN659hJBcjk35Pk"
    "J02geDUUr77P6tzGH3xLtFIXi3Jm2nvad8z7IRNbllZsQ0bETBTbTzFPDIl6YZ4ZGYjxPC"
    "DG8+FVqG358E9DbBCia0js9qwQra8CNrFDX3tnykuZeABfJ9aILPvVCBfLSJllUTz2ubTU"
    "C8gPrdO3MiJD2q+MO30L+5MpWeA7h4aK8v81u1ZR8Jj2X0b91lbelrcvHEhyr/LtVC4TWR"
    "GTXDqtuR0S40MJsXrj4FYKbLx923jJD98Rt9tjFPOSYOHteSBdgjnZr1pfQRSGsuehjDI3"
    "iT2ZaikAeSkjFdIO7FIZI3djw1TWMG4ijF2cVVf2D+yBaEHcTHBPm/BO0atG4y9xT0Ysx3"
    "eIqhBGXexBRshILLs4QUW8OiOK2Vl3HPRWpgWNdFB7XyeqZ1WYzLVQ6zsJkxkUpNfv/nFd"
    "D+mGTXy4/PRr2r2IMwTN3E/yBhUG7stIcnlAmf4wZsRAk+p5CGeO5/DFXl9jQRSG8sFHsN"
    "UV1S12GTeIaNMsqzv6KkPFZKCZPEldxo6l8Wccr7loQARbC5Q4pccIi06Oh1YLR1yNMj6i"
    "+LM0XgBhJoPRHGKXg9s6fVLLSa/3KOrsQLN8dTyZpivZYB9y+xakh1WypX2NHCLD2ogJIZ"
    "78baoohrqiIhkpqCqSwzNx+2vimZGCIpUQujgUe1wUUaOyHe8IwlFajiEIRwN5meSkLPhf"
    "yUozEseLGHneNzUF8xgo5C0q5J9o4MwcC0v4P1PXsdYjhU6u6DWuU8u9TP+JvxXYqZi/xT"
    "4fo3+HDgnQgoZM/IcRqfDySDVmxHfXSChVK6Eb89eRYh0dkCinJhKTJlyKpVhq0LKF0VVZ"
    "Ie/kCaCIH10Rlw0623TaH07jaLIbw94Ce8vBe8uXcCrhn5JfGfYC1b5S6FG7p6yIUHKCCU"
    "9FJnMp0zyX+Ymcb+greSstspu7PEntsRYjthOIFT8yyGLLIn6A4kdESz0nsf02kOKpuVmZ"
    "zNzZgxS7TCFROVub9/shOxDkIEMO8uARb1jMukEK8gFBdL1bSNu3MycrlAYvzUg8yOQNoE"
    "tAlw6mS3+n06tQWVU5aamlR/+i0wkLG9ZRjmquiN6SZ0jOIYTRjLLo3z5hDrVfR37neSh+"
    "FcJzMdQ8kAKemAcoWDkWibRl2UeAL3RiFJWsVxd36epBSj4knhDNi+jmQIIGQ4KScWm6Na"
    "fDaOaW3MR1flbtOj8rJ1/E01kDwK2EmRi2H35gSFGFZPE7wHXTdW1HK2ScKvKAaou5b2RM"
    "IohHLwEQKivi1jkfUwnwPe5v7SSMqeZzdRLGRgByMJQ5GHTl6SUKbgRgszKshMKAHOILgl"
    "kwJXifVIOiLGjifSccCPLF9rOp5CVhJPseSUgdMXooB2Ie++DMiLUWv/kzo3OGl1fRK5Zs"
    "Zapu4zrDmZsKTPxYoqEJ7cJD2F463iOOOAkE753zjWkrYsJPHA9tbo6Sm6OTZFpxGUNiid"
    "dBUbUQxPEdsR+XDWjdPQaCViB7xCBGDAE/EPADW/Sgt+hrWetTtSnHDbXbcFQntGn+5gVa"
    "YnZLAsLEthhJopP/C8//Ss7En7MpefwarRZ0jIIFo+F8keRTpkkS4+ioAPkn8eKUywVdIS"
    "dADkf/Cu25Ko/zKE+EQ0z7tsXCefNdBZUY4n2xGZ4FA/a94NB2iKc6TL6aCWVlgA01YUOQ"
    "gtcf9nCeSLt6U3KMdm2IZINjuOtjJaGUe26vE0zWDl2tRTorM6TlwzRfLhRzb7+YO3OmYZ"
    "TKZ+O1pkeyJHo8z+RPBy8b7XkmqWvTMJj4lsK8UglfQcqkwJnWkEtLo0epmhrYleTM2rBa"
    "w8/FXEwg7ejBgpghYS5dUylyJwsS7hP+VpQ06Vs+dhAc1G812BINPoX7OJIDisWB+A0IxX"
    "mwQzkkP9/V5syEKoffVfZUhR2ev8nmCIbmLsAoPxrhxB1nLSgnm8IsoSfnV8QH0AlOq66O"
    "0RKvp0TIxFatx4gytBC/WR4zHoXVWHTpY+Zw6il9gEd4pDKrLXuKYj4vXJ3nlpeYMx/OIO"
    "/PddjTwZl92LJ70RigvkLXCEP64eHGA7kIawCYdDcTvQ5yDsEqALz18NMH5Ip/jecqyrpt"
    "rGWrya4R4LlGqYWEN1qYRYUGJV0UN/gZYQ9JrOR/HnFZTTCu8C+LEGJL0MjpOq4SJcixII"
    "lhRcGplm/foMwUnqsqTH1LG3IkFYgnFJ66t8RoO+Eb+qW2AoYB25pHitOQqeLXagIBNxJm"
    "sqGWHfJAhYAKHV6bk8yXFba7tKmWBvG4U2NjXZR3htJI1NcIIxa68iwjQiIDmOOKZkFVJH"
    "f58j8fkJhObB3Fy5M7QW3iUPmo2oXoRxkKuTpKv7PnQLbc0bPlIOS+tE3oneCrGYLIeg4/"
    "NCtGPPuaGpO0IHbEIMNRWzP19FkT847oVTlXozZgNfeH1UDYx30ZyYHw0woj3U7zXHO73A"
    "USs4S48gzO2ODBX6ObG/FCIXZvbtAJD/BshsST3LWghZHb9uZGwiUbZT1Sz5kvAtG4sZ4h"
    "uvK47Ksipt0+DNjp0dmpLKqhs/Gn/U2s5tA+NwVufxh+8jhhHfzS/mbi17IFbc5oqOmMTQ"
    "RMpOvPz5o4Y4s8I+OMPQOuDgyvC4b3JSloVcH0Ns27GN+EZ3vuZH7Xgk9JVJY4cCzpHOWP"
    "ZN0OwmXCFUeY7z71DZ04NnquIHot33tovG4Q1AROlsvvFPcgaxdsBrCjHLyjXBDmqOtPJS"
    "21+wje9tm1g1QP7NDW6wegh1ceHF1N56tPjjZEHzp99aqJBf7Vq2oLvGwrJPr7WjpR0t1M"
    "AJ83cmE8r3FhPFe4MIw8PH74Xrdet5c//x+4JE5i"
)
