"""The web dashboard: server-rendered pages over the control plane, served by the HTTP API
at ``/`` (``create_dashboard``). A thin adapter like the CLI: every action is one service
call, and the services check the caller's role."""

from __future__ import annotations

from eventrouter.router.dashboard.app import create_dashboard

__all__ = ["create_dashboard"]
