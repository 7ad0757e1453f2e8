"""Analytics: daily aggregates (day × store × channel × tier), their rebuild, and the dashboard reads."""
