"""Exports for the merchant's own systems and spreadsheets: members (with or without personal data), balances
at a date, ledgers over a date range, coupons. CSV (streamed batch by batch) or XLSX."""
