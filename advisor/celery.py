"""The Celery app. Tasks live in each app's tasks.py and are autodiscovered."""

import os
from pathlib import Path

from celery import Celery, signals

from advisor.security import secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")

app = Celery("advisor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

transport_options = app.conf.broker_transport_options or {}
for key in ("data_folder_in", "data_folder_out", "control_folder"):
    if key in transport_options:
        Path(transport_options[key]).mkdir(parents=True, exist_ok=True)
app.autodiscover_tasks(["advisor"])


@signals.worker_init.connect
@signals.beat_init.connect
def refuse_a_weak_secret_key(**kwargs: object) -> None:
    secret_key.require_strong()
