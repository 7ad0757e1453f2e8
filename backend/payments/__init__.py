"""Payments: WeChat Pay (API v3) for the mini-program."""
