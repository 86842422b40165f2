"""The control plane's vocabulary: typed inputs and results shared by storage, services and
the adapters (CLI, HTTP API, dashboard), so all of them say the same thing the same way.

Pure pydantic models: no I/O, no imports from the rest of eventrouter. Secrets inside a
``Destination.config`` are already masked (``…last4``) when a service hands one out.

One module per concern; import from the module that owns the name:

- ``base``: ``Model`` (a result), ``Input`` (what a caller sends), ``Page`` (a list's page)
- ``configuration``: channels, destinations, subscriptions
- ``rules``: a subscription's rules, the decisions they make, silences
- ``history``: events published and the delivery log
- ``people``: users, their org's people settings, tokens
- ``overview``: the last hour at a glance
- ``retention``: what ``db prune`` dropped and kept
"""
