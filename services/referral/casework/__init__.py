"""Case work on a referral: case notes and strategy discussions, both append-only."""
