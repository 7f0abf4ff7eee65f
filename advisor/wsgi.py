import os

from django.core.wsgi import get_wsgi_application

from advisor.security import secret_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")
application = get_wsgi_application()
secret_key.require_strong()
