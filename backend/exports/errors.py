"""Export errors (stable codes; zh-CN messages)."""

from backend.errors import error

MAX_RANGE_DAYS = 366
# Excel's last row is 1,048,576; one is the header.
XLSX_MAX_ROWS = 1_048_575

ExportRangeTooLong = error("EXPORT_RANGE_TOO_LONG", 422, f"导出的日期范围过长：最多 {MAX_RANGE_DAYS} 天，请分段导出")
ExportTooLarge = error("EXPORT_TOO_LARGE", 422, "超出 Excel 的行数上限（1,048,575 行）：请导出 CSV 或缩小范围")
