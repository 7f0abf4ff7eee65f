"""Thin Celery entry points for rebalancing: each calls one service. Tasks take ids."""

from celery import shared_task  # noqa: F401
