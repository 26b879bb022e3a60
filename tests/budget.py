"""The size of campaign-marked tests, one convention for the whole suite.

KUBETWIN_CAMPAIGN_BUDGET is "small", "medium", "large" or a number. Under ``-m campaign``
without it, "medium". Otherwise campaign tests are skipped, so the default suite stays fast.
CI sets "small"."""

from __future__ import annotations

import os

import pytest

__all__ = ["campaign_budget"]


def campaign_budget(request: pytest.FixtureRequest, sizes: dict[str, int]) -> int:
    env = os.environ.get("KUBETWIN_CAMPAIGN_BUDGET", "")
    if not env and "campaign" in (request.config.option.markexpr or ""):
        env = "medium"
    if not env:
        pytest.skip("campaign: select with -m campaign or set KUBETWIN_CAMPAIGN_BUDGET")
    if env.isdigit():
        return int(env)
    if env not in sizes:
        raise pytest.UsageError(f"KUBETWIN_CAMPAIGN_BUDGET must be small, medium, large or a number, not {env!r}")
    return sizes[env]
