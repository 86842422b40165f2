"""Lets ``celery -A workers worker`` find the app (Celery looks for ``workers.celery``)."""

from workers.app import app

__all__ = ["app"]
