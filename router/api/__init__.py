"""The HTTP API: a thin adapter over the control plane, like the CLI.

``create_app()`` builds the FastAPI application; the dashboard and Slack's endpoints mount
their routers into it. Requests authenticate with ``Authorization: Bearer er_…`` (``auth``),
errors are RFC 9457 problem details (``problems``), bodies are size-limited before they are
parsed (``limits``).
"""
