"""Lets ``celery -A eventrouter.workers worker`` find the app (Celery looks for
``eventrouter.workers.celery``)."""

from eventrouter.workers.app import app

__all__ = ["app"]
