"""Safeguarding intelligence at the front door: contexts (vehicles, places, phones,
online handles), the adults of concern across referrals, and pattern alerts when one of
them turns up in referrals about different children."""
