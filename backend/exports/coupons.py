"""The coupon export: each coupon with its template, holder, status, how it was issued and its times."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from backend import clock
from backend.coupons import views
from backend.coupons.models import Coupon, CouponTemplate, Redemption
from backend.exports.service import BATCH, Export
from backend.exports.writers import Column
from backend.members.models import Member
from backend.stores.models import Store

STATUSES = ("available", "redeemed", "expired")
# The coupon's status as the API shows it (expired once its window is over, before the expiry job ran) →
# the filter the member coupon lists use for it.
_FILTERS = {"available": "available", "redeemed": "used", "expired": "expired"}

COLUMNS = [Column("券ID", "int"), Column("券模板ID", "int"), Column("券模板", width=20), Column("券名称", width=20),
           Column("会员号", width=14), Column("状态", width=10), Column("发放方式", width=10),
           Column("发放来源", width=20), Column("发放时间", "time"), Column("生效时间", "time"),
           Column("到期时间", "time"), Column("核销时间", "time"), Column("核销门店")]


def export(*, status: str | None, template_id: int | None, period: str, batch: int = BATCH) -> Export:
    """Coupons by id, in batches; ``status`` one of STATUSES (as the API shows it) or every coupon."""
    return Export(kind="coupons", title="优惠券", slug="coupons", period=period, columns=COLUMNS,
                  filters={"status": status, "template_id": template_id},
                  batches=_batches(status, template_id, batch))


async def _batches(status: str | None, template_id: int | None, batch: int) -> AsyncIterator[list[list[Any]]]:
    stores = dict(await Store.all().values_list("id", "code"))
    query = Coupon.filter(**views.status_filter(_FILTERS[status])) if status else Coupon.all()
    if template_id is not None:
        query = query.filter(template_id=template_id)
    last = 0
    while True:
        coupons = await query.filter(id__gt=last).order_by("id").limit(batch)
        if not coupons:
            return
        ids = [coupon.id for coupon in coupons]
        names = dict(await CouponTemplate.filter(id__in={c.template_id for c in coupons}).values_list("id", "name"))
        numbers = dict(await Member.filter(id__in={c.member_id for c in coupons}).values_list("id", "member_no"))
        # The store of the redemption that stands (a reversed one gave the coupon back).
        redeemed_in = dict(await Redemption.filter(coupon_id__in=ids, status="done").values_list("coupon_id",
                                                                                                 "store_id"))
        now = clock.now()
        rows = []
        for c in coupons:
            shown = "expired" if c.status == "available" and c.valid_until <= now else c.status
            rows.append([c.id, c.template_id, names.get(c.template_id), c.name, numbers.get(c.member_id), shown,
                         c.source, c.source_ref, c.issued_at, c.valid_from, c.valid_until, c.redeemed_at,
                         stores.get(redeemed_in.get(c.id))])
        yield rows
        if len(coupons) < batch:
            return
        last = ids[-1]
