"""The request type of views behind `login_required`: its user is a signed-in `User`.

Only for type checking: Django's own `HttpRequest.user` is `User | AnonymousUser`, which a view
that requires a login never sees.
"""

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedRequest(HttpRequest):
    user: User
