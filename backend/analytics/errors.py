"""Analytics errors (stable codes; zh-CN messages)."""

from backend.errors import error

MAX_DAYS = 366

AnalyticsRangeInvalid = error("ANALYTICS_RANGE_INVALID", 422, "开始日期不能晚于结束日期")
AnalyticsRangeTooLong = error("ANALYTICS_RANGE_TOO_LONG", 422, f"统计的日期范围过长：最多 {MAX_DAYS} 天")
