import os

from django.core.asgi import get_asgi_application

from advisor.security import secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")
application = get_asgi_application()
secret_key.require_strong()
