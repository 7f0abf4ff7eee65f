"""gunicorn settings read from the working directory (the Docker image's /app, the tests).

No `Server: gunicorn` banner: gunicorn writes that header itself, below Django, so the
response class is told to leave it out.
"""

from gunicorn.http import wsgi


class _ResponseWithoutBanner(wsgi.Response):
    def default_headers(self) -> list[str]:
        return [h for h in super().default_headers() if not h.lower().startswith("server:")]


wsgi.Response = _ResponseWithoutBanner  # type: ignore[misc]

# Headers beyond this size are refused before Django sees them.
limit_request_field_size = 8190

# No runtime-management socket (gunicorn 24+ opens one under ~/.gunicorn by default): nothing
# needs it here, and two servers on one machine (parallel test runs) would share its path.
control_socket_disable = True
