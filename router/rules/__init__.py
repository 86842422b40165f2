"""Alert rules on subscriptions: whether and when a matching event is delivered.

Pure parts, no I/O: CEL expressions (``expressions``), time windows in a zone
(``windows``), the stored settings (``spec``) and the decision for one event
(``engine``). The router's store feeds them state from Postgres and writes back what
they decide.
"""
