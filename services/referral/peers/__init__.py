"""Peer hubs: other MASH hubs this hub tells of children placed in or from their area.

An admin registers a peer (its name, local authority code, base URL and the client id
this hub was given there); this hub makes a key pair for it and publishes the public half
at ``/api/v1/peer-hubs/{id}/jwks.json``, which the peer registers as a partner system
with ``private_key_jwt``. A referral or decision about a child whose placing or host
authority is a peer's becomes a notice (a row written with the event's handling, so none
is lost), sent by the ``PeerSender`` to the peer's ``POST /api/v1/referrals`` as a
``notification``, retried until it is accepted or dead-lettered. Every notice, and every
decision not to share, records its lawful basis: together they are the sharing ledger.
"""
