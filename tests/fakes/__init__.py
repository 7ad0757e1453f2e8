"""Loopback fakes of outside systems, spoken to over real sockets."""
