"""Delivery channels: each turns one rendered message into one provider call and a ``SendResult``."""
