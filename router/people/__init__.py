"""People as recipients: what each user wants to receive, on which medium, and when.

``preferences`` is the pure model (no I/O) that storage, services, the router and the
adapters share.
"""
