"""The producer client, the router process, the control plane and what they share.

Installed as ``eventrouter.router``; the public face is ``eventrouter``.
"""
