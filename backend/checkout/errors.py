"""Checkout session errors (stable codes; zh-CN messages)."""

from backend.errors import error

CheckoutNotFound = error("CHECKOUT_NOT_FOUND", 404, "结算会话不存在")
CheckoutExpired = error("CHECKOUT_EXPIRED", 409, "结算会话已过期，所需的券、积分或储值已不可用")
