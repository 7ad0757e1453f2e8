"""Shopper-facing HTTP for the WeChat mini-program: thin Sanic blueprints over domain services."""
