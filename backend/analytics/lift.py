"""A touch's conversion lift against its hold-out group, with a two-proportion z-test.

The lift is the difference of the two conversion rates. Its 95 % confidence interval uses the unpooled standard
error (Wald: ``sqrt(p1(1-p1)/n1 + p2(1-p2)/n2)``); the z statistic and its two-sided p-value use the pooled
one (the test of "no difference"). Nothing is computed when a group is empty.
"""

from __future__ import annotations

import math
from typing import Any

Z_95 = 1.959964


def two_proportions(converted_a: int, members_a: int, converted_b: int, members_b: int) -> dict[str, Any]:
    """Group a (treatment) against group b (hold-out): lift, its 95 % interval, z, p and whether the interval
    leaves out zero. All None (and significant False) when either group is empty."""
    if members_a <= 0 or members_b <= 0:
        return {"lift": None, "ci_low": None, "ci_high": None, "z": None, "p_value": None, "significant": False}
    p_a, p_b = converted_a / members_a, converted_b / members_b
    lift = p_a - p_b
    se = math.sqrt(p_a * (1 - p_a) / members_a + p_b * (1 - p_b) / members_b)
    pooled = (converted_a + converted_b) / (members_a + members_b)
    se_0 = math.sqrt(pooled * (1 - pooled) * (1 / members_a + 1 / members_b))
    z = lift / se_0 if se_0 > 0 else None
    p_value = math.erfc(abs(z) / math.sqrt(2)) if z is not None else None
    low, high = lift - Z_95 * se, lift + Z_95 * se
    return {"lift": round(lift, 4), "ci_low": round(low, 4), "ci_high": round(high, 4),
            "z": round(z, 4) if z is not None else None,
            "p_value": round(p_value, 4) if p_value is not None else None,
            "significant": se > 0 and (low > 0 or high < 0)}
