"""Omnichannel member platform (全渠道会员一体化): the server and the domain."""
