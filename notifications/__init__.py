"""Notifications: consent-aware SMS, email and WeChat subscribe messages through an outbox.

Domain services call ``enqueue`` in their own transaction; workers (``python -m backend worker``)
deliver what is due, passing consent, channel choice, quiet hours and frequency caps in that order.
"""

from notifications.outbox import enqueue

__all__ = ["enqueue"]
