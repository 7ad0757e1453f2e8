"""Online checkout sessions: validate a cart, hold coupons, points and stored value, then complete or release."""
