from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "member_tags" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "member_id" BIGINT NOT NULL,
    "tag_id" INT NOT NULL,
    "source" VARCHAR(8) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "uid_member_tags_member__9ddda5" UNIQUE ("member_id", "tag_id")
);
CREATE INDEX IF NOT EXISTS "idx_member_tags_tag_id_8cc4c5" ON "member_tags" ("tag_id", "member_id");
COMMENT ON TABLE "member_tags" IS 'One member carries one tag; an auto tag''s rows are replaced by each recompute.';
        CREATE TABLE IF NOT EXISTS "segments" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(64) NOT NULL,
    "rule" JSONB NOT NULL,
    "description" VARCHAR(200) NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "segments" IS 'A saved audience: a rule tree compiled to one SQL query whenever it is counted or used.';
        CREATE TABLE IF NOT EXISTS "tags" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "code" VARCHAR(64) NOT NULL UNIQUE,
    "name" VARCHAR(64) NOT NULL,
    "kind" VARCHAR(8) NOT NULL,
    "group" VARCHAR(16) NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "tags" IS 'A label on members: ``manual`` (staff apply it) or ``auto`` (the nightly recompute owns it).';
        CREATE TABLE IF NOT EXISTS "tag_settings" (
    "id" INT NOT NULL PRIMARY KEY,
    "data" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "tag_settings" IS 'The automatic tags'' thresholds as one validated document in one row (id 1).';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "member_tags";
        DROP TABLE IF EXISTS "segments";
        DROP TABLE IF EXISTS "tag_settings";
        DROP TABLE IF EXISTS "tags";"""


MODELS_STATE = (
    "eJztXWtz27aa/isYfakzo2QTx0m96c7OOGlO69MkzibupnMyGRkiIQlrimBB0ormTP77Ar"
    "xIvIAUQZESYb9f2pjAS1IPQOB5r/j3aMls4vhPLjzvD7IevUL/Hrl4ScQ/Ci1jNMKet70u"
    "LwR46kRdRcvklqyji3jqBxxbgbg+w45PxCWb+BanXkCZK3tfuIi6AZlzLK8gCzsO4eiEuQ"
    "51CVqKP8fo49XnMXr76eOjV8inc9dHnPwdEj/w0YoGC/T7+4s3jz//fnH64uUT+VCbWeKp"
    "1J33dP/QpaJ5ErA5CRaEi6d8/SYuU9cm34mf/undTmaUOHYORmrLG0TXJ8Hai65dusE/oo"
    "7y1acTiznh0t129tbBgrmb3uLHyKtz4hLxk4i8fcBDCawbOk4yBinW8Ztuu8SvmJGxyQyH"
    "jhweKV0anfRiBtDkksVcObLibfzoB87lUx6fPjv7+ez8+cuzc9ElepPNlZ9/xD9v+9tjwQ"
    "iBD9ejH1E7DnDcI4Jxi1v0/xJybxaYq6FL+xfAE69cBC+Fqg699MIWvu1k7gi/Jf4+cYg7"
    "Dxbiz2dPn9ag9b8Xn978fvHpRPR6JH8NEx9Y/OV9SJpO4zYJ6RZC8UlOVNOvGsStRDcw9j"
    "4JcyCeNcHwrBrCsxKCPrE4CSbEtcooXpPvFV9xXsqUCVmD3fXbv67lSy99/28ni9nJ+4u/"
    "IjiX66Tl3dWH39LuGYzfvLt6XcBW7BH0TvGJv2bMIdhVQ7sVKsA6FVJ94bqZtF3j+vrq6l"
    "0O19eXReD+fP/6rfjwI5BFJxqQ7PK5RVPMOPmrJzgoI/qraAnokqghzUsWYLUT0SfpP4Y5"
    "d0fiN9hXrrNORqtuLl++f/v5+uL9xxzwv15cv5Utp7nJnF49eVlYMzY3QV8ur39H8k/0r6"
    "sPbyMEmR/MefTEbb/rf43kO+EwYBOXrSbYzqyG6dUUmB+STMxuM9uivDDF1u0Kc3tSamGn"
    "rKpvuWl5uixewS6eR8MiwZWvmVK/0KbBOzZX0sK0rZ4Yyl4TJ+m2kxl+WTBkUxutFjhAAR"
    "P/p9YCLclySvg4ZmZTMmOc/AeeBYT/glacBgGRfA8JXoasBXbn5CdfAItdX64VzC3zw96e"
    "0jFLfE3n94go/ufp6fPnP58+ff7y/MXZzz+/OH+6YYzlpjrq+PryN7n85b7H3XRSDBPjMV"
    "IafCgvZcpOXqCWL5swy+IKlyGWL4usKEZFj1lmZVrhmMzKo8H48qwBjC/PKmGUTWUCJN5I"
    "D8REoq+p2Cs/7x7CeNFWTsW61TMntnsRbTUbDV5Ft/gGmIu9THvZLIgZ+b0/P20wWZ+fVk"
    "5W2aQEU2/dzAkZCWT3X33Mzsoo/vPz1Qc1iluJAoR/uuK3fbWpFYyRQ/3g2yABrQFQ/uZ6"
    "1byohRdUFHmDkmouea8OvhsBgLcBvImtWXMlyEvBUmCg2aNjTmCIlSPFYahmjs8Bns0uLI"
    "uFbjBSmDpy7eM6c4cve05w3LWZN6x6sMHndHCfU+gTrut3ysqY6DTpfk32sO+vmPgqF9hf"
    "6EBZEjTT4HL64kUDSEWvSkyjtgJnYI7WtEz7mwlhLzYr8DZ15m0K2C1xJ3eE+0oLVuVeU5"
    "JrZXxpBeuzY287ppJW8NXV+upy4QIB40Sp1lV+EVmRniyRnQ9gB59DifoXQCwj+A9xlc7d"
    "P8g6AvJSvBJ2LdXivKHtyX0GB+CPdBKkV7dvwfFqw+dzc0P8PvGrSLwgfxIT9dPlGwHksT"
    "QmCa1SVUowr9ORmPzgxqAbmaUbWWIodQho2t9Enah72z9EM+4dzQgMHuLFgIPua0jN8iw8"
    "myk+p0TsH398Ig6uiDeosIwaw7R+9MmOLm2y9FhAXGv9iViM5/lHZada1kS33Sc86t8Dhf"
    "o68i0Wu+xvyXr0DYLXBhK8thmWpvRhI2AofzhtxB9Oa/jDqSobQgfCpLuZAPZjgk4c0Lpm"
    "/aKcmZB27ycRG3Cg91WnAodDUDROZg6dL6LFuaOPu9G3XfNplyem74knkokEKPQ19HuF5A"
    "MywikxnDJbsU5WJzuVBA2JTDl0utMGJ91gypKgIQAfwCTgMOtWaKJC+6COrhpblDVTkTVE"
    "ca0MAcqOJvnuUXG7FiaJvCTEch15IB+2bcn0kRxIVN4buee5QbUFJd9hXGc9seKuWpaT0Y"
    "XnEdd+zFxnjRZUuq3WiM0QuSPiH3OO3QBh147yBW2OV9hBJx8vP757pChIsc+dIKlwuHaZ"
    "o6UfHSGT6yj5RzLV1iUKblfjd9yKmGloOG/Ak88rWfJ5KRoz5GJX0NI4MiJmQti9iSFapY"
    "nqO6/zPmakDuh+7I2+dOh+9FnILT3j10bCzDnZQz4h+R5Ux2DWpBQW5Iy0J3QPJ2gtoLXs"
    "r7WEgt4vo2nyK5mNVGpLvse4Vm+J+iaDIka6eYE9bC+p+1iIUJfYyONsRh2Cohv9gu6wEx"
    "IfOfSOyJomNzfvI0L6JPs4/+YGnbgMLWlaR88jPL6BSsM5xBMh6O/gQX/H9JmaXjtO/DA9"
    "zWUjYCbB6d5Bqusp2ctBcnT8Otb7pNedcm2VJSt2QJ1FN3rpODGTC0YtovAvVxdGyIhAaY"
    "QC1VOVRsh8Ec037LzQA3XgQ3g0hEeDMjgoZTBWckYKJTBpGdcpf7GXYGCZUuA+6t595DId"
    "kpsTMlHTahTbWxPaW47srQr7q4+kVIb7daYrlCDM7LUD9XEsCRfL2EQ8jrVwaRZlzaJhB/"
    "ZregIaoltWPidkiNH+0FGWMUYO9oMzLY9nXswQcAsWrCYGrGr7VclvHEHicTKj35/rY5kR"
    "NBLN503cS9XepVL+L7VutXOAMzJGYti9RVD8YFtVmbIaxK3EAZMmQvdWqCNuZ3t9x6bBKe"
    "XBwsYK075UbdU4ZmXqlNpBTssa+KSOWoCHLLEqnLx6jm0EjPxKT180+UxFr5pcsXJdzqxj"
    "T8tgWhTswGza7iP+r1noRvXW0TSkTkBd/4l87H/v8VUf2poq9mDCOXYmusU7SoImKpp9JJ"
    "pJWFpEfBYEoeR8tWrEyZzKt5BvO2kR/1klb6ZTsPtCiDl8WhQsq5Q3S+HvMHFS4kF4K2dB"
    "SRj8BcdOXsrNb06kF2CPoVXfp4NRHhSJNm6Q41J6bYY1LwkDeeSBDD27pZ82Lwnr7sD9tF"
    "m3JHEDGlBVII5O8arYB3sZ32096AE+bP2qGJgkvXJU6b1OO4x3O7EnSQJmw/jla3nIYij0"
    "JTdAUc2TKBL4JD2hMSH1Y5TkKT0ao1viBfHJjfKAxjTHkrqIuaT+MMien6WsspXL/8uqKE"
    "neFRTeGpiHfpAJnvfDEwoZnpDh2QJCyPDshTVChuegUhIhw7NTOEFZfCDKYv/a0du7Wt0o"
    "bh430IzInZ5eFIshOc0c6pJXSRUZmy3FQCdH0yMcFZzxpUYy3nlqfUkd6v4Ru4OQC0qR+K"
    "/o8HWT0ZUJqv8G2hBoQ/dVG3pYGY/d59weQZs8Nk3q3kMMp1i18QN7eO0wrACtOtYpIwJR"
    "Tu2jnCBXD2h9R7R+4w2qZPZZf9FOcp93Ve0m+FcuQSu8RgFDslTl3KW+YNoJIX+C3mJrgU"
    "5uxVwaS/49jsuqPEJT4jB37ksxHKClGJTIF5GIlTh+b09ROjvkjRKwkg0iuh84OQZD69MR"
    "asqY0v5mks7uLcfbmd0Uwa3EAZMS9tjR+6bt8YqgAeBGwNQ52MQFJHrVzMKSGwhokMk0KJ"
    "+IC3aW7rfAEtEsAl5GW/vM4W1dh+EhXRVLNC6cOpybRrljh99cfH5z8evbY506HIP7Xmaa"
    "jyr5edzchJxHKeuaFRVRJPQK3dzECe83N2jGHJvYSGa+i8t+yO/oHeM3N0/Qn64tCXJU9n"
    "26FgzbJav4BiguRF9dR7GH50AhkOEy8HQ0tZf8giDUkq+xraclKlpWtgCAdwEsVtCKKVyj"
    "CWVkjDS/d5/jvmR3qjCkajPyRgCMyGBEfpja00CMyJ/ITPyQxTW7Ja6Koubaazkqj3sKui"
    "a6Qg040zfJauoXDbD2kbp5KROT83s4Tjec/h+xFMt3TcTpVuRgdeCGHUBh1hmMsA3WZEb6"
    "7SJdfUhuHcoQAic1eSQHwkm/ELH/BReWxUJ1xHK+Qy0rXRFLdJ3guG9T2ymKn4DE0sLluZ"
    "cs5GhJXfrY42zO8XKMomppaMbZEsmCQ6c+8WXqwjhOs2Q8+j8Lg02UAlqTQGE97fNJyuCG"
    "rSOXecSVUctArAdCrM3wyg+bDSaTWgPDrYSZGHavloTSCqcHYkYEbKLx746X6cktWetWTV"
    "aIGgJqHQHqo3by0cIOHkhlO6DzJtN5SCS9LyM5EMXsHVtjJ1jXaGaFHuM61cyJ+2rqZleb"
    "AO6ffDTFjoxu8l8h7Kzw2o9yOv1w6UtVSvybcuQQe064j06waydX40M9HRb4YzQTCpTH5D"
    "xRnBHa87P2cHIMJ97uYahm8bBNkjmgB3pZ9nCRjk/NAL4EtE2mio2qAcqpIEBcDbF4J4t6"
    "slR2msivAXNZGKCuhHrK3NBvA3NBECCuzj+nUbE+vWLxOSFDdOu+jySLMPGpcnur1xDyku"
    "CDO7KqFw3HkmA/5JpMpSgJy07lslNZ4qoO3+r6VgAtmCrux0o0LFPFx9iLOqo2VaQ9xk1M"
    "FV6mc8PaV1xWawl+8lFyD8RDh/joRK61/hgRzN34kvi3jEdaj1FE/oj/COGoWJXMZqfRxE"
    "Zi+oRLQQqrqmD197COAzL3dhoPyDSxZz2WaqODbChDVx1Vn/aHoPr2QfWw+cDms/fmc8Vt"
    "9SHqcUPtVsNklx7C579my4ZFD5EHcheDfwpFDT0HW1DD8Mi254dYb7z7EnGbKa8BY1bGTB"
    "x7yPWDkItetV8oZdjuSDvx5n6gnZVUlIOvPAlFXUqXfBvPRVESqrrUfe029a22SJdlwai4"
    "y6/se0mVc23H8kYSQN4FclTqrJVzWSkPgDdw5UfTcz+HfuEWAPsOt35ryJXiAHcl3NJsPZ"
    "liv9WaohAGqHet4BI0VUWXBov3VhRgrjkxfha68nDlFhO6LAtA75rPXJ4H47ec0VlhgHo3"
    "1JE5oi3UW2GAugHtSwHbj/mV7wLg7yB/+wBfdQcAvcYqioNQAXNNoZyNxAELlsf+sj3c3X"
    "0HedKALBUwVscUbASGFFQgH2hSUAEnFhFvqYN7RmRIyJsWzrF1YJewr4/myAlCMMexY5oh"
    "EdnkkRxIWM7HSMl46wZceVpStnlcF6KTWjpEz6bnJGmG6uS85ULh3xWnk5bxgQAdOGT0Pr"
    "pJH9h5T50HP8UrVhuTDMzNnS58Mg3kiSOqWO1a931ODnT/aoNLnDg/wbNAdeJNraWlKApT"
    "ud4tgX1VTltd/FQqYeKxcKdPmxlY6iwsJROLz0KuyqGtMVVtJAzdrzo/nxAOxe5g04dI0j"
    "aRpHHMty6Xz0pBdHOt41tve5mZ+0E3st4/qzHfPyvb78EOBnawjuxg75iygtu2cdzABiYL"
    "mzUygI3i+6I4PAil5q60irVLkoTkX5CMi7PFLEABviV+XPhaFlKbUe4H8ijv+NiGcgp0L0"
    "/YnfdcstYtxXyVryT6fS2cMZFpBHMdmOvuqx7ZJnzwGHGDJmK7XUK04M2JAcK1s3c4BwpB"
    "Iax9nMbSQbfWXuezUmbpwFAcHD4UY3WRP30yqlNHZHtDjWQiCxo100q+LKi1iMozI4xsMq"
    "WS/7PbSCcYI5+Jq3G8PfJC0SfK2UlqOCMJAFoJpYBI7WGNLPHmkWBZNenvMXBQ5rEXxGpF"
    "40j7T4PF0GC4t/DKL10X3K0McODdyRwQMNAVtgPZbT9Fm4xqn01aanfY2MkRb1S9hL1lvS"
    "jxY1Q1qmBDO9aGdiTf2EPZ0LZTvoRvrYtsK2Skowyq15g7YSFeaO94IUhRPnSKsuXgFbEn"
    "klK1QrsgD4DXx8Zi29ad1nk5ABiS7gcANSTdHw98SLo/Cr2DtOXjpC2Daw1ca3sb+64p4U"
    "ITc6O1o2Twy7SO64x+8VFpUccebH5g2huIaW/IQXEGA74FWHpstc8pzAkZadzr4ZxCpn/c"
    "I9sPxKNnWHWPohmmu07zMTpPsGp1xiIcrwixZUCAD0aAf6MzZZrLpm03+Z2Lbg3DyS6QlP"
    "jJR1IGeeJXjNGcY1cep8dciyCPcBRzpnHUFWEZ80U4ZTY6sbBYrGzM0Zpg/qgcRdb53XfX"
    "nskflBzdCfzxQNofjIfzSKeLH50sdU84k8VDA8athJkYnjeA8LwSwXNTa/gA1wSu+QC5Jv"
    "NCT0k0o4ZalrnCjkMCQcNET7Cx3l+65uG1PE97olkEoyDWzWbYO+L39RjKh2KvhupBbaoH"
    "QeTpIeNBWoeBAMoQAAIBIKCT3G+d5EukV1TWO882jxvoJ1DvHPSYwXPv+7HxQr3zUVE71K"
    "t3vomy3itEG2gikPHBoLydli0KoSuEAe3dc7pNyfm8IKAMCaQ9J5BCsfQOGAOYO6FY+tBW"
    "xyP6i479gXfvMILK88XlESrPg0XywBbJNyz0IuBLxsikZVxnh7SiPr0YIAOy9Bwx45JdKW"
    "eqio/nmTQwSyZnTn+Thd/r7kh9PxQfhI3XYMY8nhmzMELNkS4IQhhBDYcBW3H/gRrpQfdN"
    "uc1W4oA6NL7DNL5DZzSnEcupITnl1ELClwokq73dG4Fj+bp7YzW9eLWj/2tM1LS/mW6Nsy"
    "bz86x6fp6V5ucddqhga5wtdTl4XhI4+LGPJojHI3QDqrDbNRnKjehhxrJjLnKfhhLO+6ww"
    "L2ic95lRsbRx7DYu+uBJQk02ifPqTeK8tEkkyqW+nSYnCFvEsdeVjJFA45vIS5n5TXRP7D"
    "mxCVm2+ioKonCo00O3Xl4n1p9RpRVz02O825o5SY1JkPhlutGr2tIIem9p+dbSe7OvpQFj"
    "QQwCRgZsMSx99yOb47g8y0A5BRgLR70aCwMWYGfiB0xVpb3aN5OXeqBxOYkWYMmUQg3wim"
    "ImFY3oDDuP8EnifnLokurgpxJ9oDMwA4WNqbPeB8vCDR4oopaD6TJ1oBXIOmMOwW5F+E1W"
    "roDdVAj29UnrKjDNt5vXV1fvctvN68sCJf/w5/vXb8V+Hu09ohMNSA2oE1mwSWsrL4gNKd"
    "NVPhAyXcFgeXiDZejZLUcyLwkj+YBtbPF5z++x41wGZDlS2NgKPcYNzoReis4TsQcswcgG"
    "RjYwsqmNbEMPh7wf0XrJiuRxqooZ2FHIcStmGMjd1VcSbPdOVwPaCh1Q/dmssUPWfoB7A2"
    "Pb/0xxW2wACfiKc8U3rbVMLfGG8k13oGr3l6olg62Lc04Msi4Mzbq4FwBDungrE/bhKxUc"
    "XVHrvlQBJN33+WXHOLWv46qWN+uDP/Qp4dS32sJdljXJaX34VMHZTHfX2oqYNYk727WGGC"
    "6l8AXazB1ybiWUeuqi1BMYbAw22OQ/hzvC/ZYZCTlRyEh4uLa398T3sfp877RpXGd1W8ad"
    "Gp5ueOUSlEiggCEW/SktBq8QdhELgyn7jjhbjdGK0yAgLqIuChaiM8euj+NAFTZDqwUOkI"
    "VDMYcRDcrnHPb4nN1Wwa+Z3dsWXcVH9k3WcynVn46KvLDQWiiKv3ic3VE7qQCZ/HuS/KQJ"
    "FK+G4tX3WZ3b+INviVbqYlHOTHtP9455L+Riy9KKbciImIli9ynmiSFRL8wzIwMxnnvEeD"
    "68CrUdH/5piA1CdA2J3Z0VovNVwCZ26GnvTHkpEw/g68UakWW/GuFiGSmzLIqHPpeWuQH5"
    "rnX6VkZkSPuVcadvYW8yJQt8R1moKP9fs2sVBQ9p/+XM62zl7Xj7woEk9yrfTuUykRUxya"
    "XTmdshMT6UEKs3Dm6lwMZ7bBsv+e5RcbsWo5iXBAvvkQfSIdgn7ar1FURhKI88lFHmJrEn"
    "Uy0FIC9lpELag10qY+RubJjKGsZNhLGPs+rK/oEWiBbEzQT3tAnvFL1qNP4S9+TEoh4lqk"
    "IYdbEHGSEjsezjBBXx6pwoZmfdcdBbmQ400kHtfb2onlVhMtdCre8lTGZQkF6//eu6HtIN"
    "m3h39eG3tHsRZwiauZ/kDSoM3JeR9OUBZfrDmBEDTerIQzijLvUXrb7GgigM5YOPYKsrql"
    "vsMm4Q0aZZVnf0RYaKyUAzeZK6jB1L4898vPZFAyLYWqDEKT1GWHSiLlotqLgaZXxE8Wdp"
    "vADCXAajUWKXg9t6fVLHSa/3KOpsT7N8dTyZpivZYB9y9xakh1WypXuNHCLDuogJIa78ba"
    "oohrqiIhkpqCqSwzNx+2vimZGCIpUQujgUe1wUUaOyHe8IwlFajiEIRwN5meSkLPhfyUoz"
    "EoeLGHl2bGoK5jFQyDtUyD+wgM6ohSX8H5lDrfVIoZMreo3r1HI303/ibQV2KuZvsOeP0d"
    "8hJQFasJCLPziRCq8fqcaceM4aCaVqJXRj/1WkWEcHJMqpicSkCZdiKZYatGzhbFVWyHt5"
    "AijiB1fEZYPONp32h9M4muzGsLfA3rL33vI5nEr4p+Q3jt1Ata8UetTuKSsilJxg4qcik7"
    "mUaZ7L/FjON/SFvJEW2c1dHqf2WIsTmwZixY8MstiyiBeg+BHRUu+T2H4bSPHU3KxMZu7t"
    "QYpdppConK3N+22fHQhykCEHefCINyxm3SAFeY8guqNbSLu3MycrlAYvzUg8yOQNoEtAlz"
    "rwjcv1/hrPVUxp21hLkpI9I8BzrSIvUghZmEdqsCQh4ga/yOorEiv5x0++1HVj/7NUkbEl"
    "tOHpOuYwnFhs6YUVdKjj2zcgQXiu4j9f04ZxdmuF0ixAi+4vLdpM+Ib7+FbAMGC7q/7IQq"
    "46qqOm8sJGwkz+2HHuL4RfAxXa33JE5tLMriJCaVMtDfLjTg050AXy8Z0gHDi0KXEt8gph"
    "xENHRtoRgiT5oI5oTmrTff6fd0hMJ75Gq4WYf3eC2tAAUR9FhYlFP8aRrEFXJkM9PgccEA"
    "d3QEA0W2mb0MsvEzNfx4GT9gcHThMHTvY1NSZpQQwqMQOruQesBkx192UkB8JPK4x0O81z"
    "ze1yF0jMEuLIDJHY4OG/Qjc34oVC7NzcoJPooAYknuSsBS18JMngzY2ESzbKlBGXzheBaN"
    "xYzxBbub7sqyKm/T4M2OnB2aklJp/Oxp/2NzFTpXtuCtx+P/xkspsOfml/M/Hr2II25yz0"
    "dNDbCJhI17uvsANcHRheFwzvMwkCgbRfwfQ2zbsY38TP9tzJ/K4Fn5KoLHFALekc9X9CwU"
    "KgumDixRH2d8ckoxNqo2cKotfxvYfG6wZBTSDuOb9T3IPcJLAZwI6y945yQTi1FqrNJGmp"
    "3Ufwts9gDkkHPXz3cl2Z1lhN56vzGg3Rh05fvGhigX/xotoCL9sKNcU9LZ0o6W4mgM8auT"
    "Ce1bgwnilcGEamNg/f63bU7eXH/wNanni0"
)
