"""Paid membership (付费会员): plans bought and renewed with WeChat Pay, periods, benefits, coupon packs."""
