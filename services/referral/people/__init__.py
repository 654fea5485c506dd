"""The person index: every referral subject linked to a person, by reversible decisions."""
