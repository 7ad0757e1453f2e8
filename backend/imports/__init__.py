"""Bulk import of members with their balances, tier, consents, custom fields and tags (switching systems)."""
