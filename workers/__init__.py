"""Celery workers: from a planned delivery to a recorded attempt."""
