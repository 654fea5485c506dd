"""A referral's statuses and outcomes."""

from __future__ import annotations

OPEN_STATUSES = ("received", "triaged", "awaiting_information")


OUTCOMES = ("no_further_action", "advice_signposting", "early_help", "cin_assessment",
            "strategy_discussion", "immediate_protection")


MANAGER_OUTCOMES = frozenset({"strategy_discussion", "immediate_protection"})
