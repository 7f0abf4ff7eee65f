"""A plain HTTP client for the tests against gunicorn: cookies, the CSRF token, a chosen source
address on the loopback network (127.0.0.x) so that several "people" can be told apart."""

import re

import httpx

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Visitor:
    def __init__(self, base_url: str, source: str = "127.0.0.1") -> None:
        self.client = httpx.Client(
            base_url=base_url,
            transport=httpx.HTTPTransport(local_address=source),
            follow_redirects=False,
            timeout=30,
        )

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.get(path, **kwargs)  # type: ignore[arg-type]

    def post_form(self, path: str, data: dict[str, str], page: str | None = None) -> httpx.Response:
        """GET the page the form is on (for its CSRF token), then POST the form."""
        form_page = self.client.get(page or path)
        match = CSRF_INPUT.search(form_page.text)
        token = match.group(1) if match else self.client.cookies.get("csrftoken", "")
        return self.client.post(
            path,
            data={"csrfmiddlewaretoken": token, **data},
            headers={"Referer": str(form_page.url)},
        )

    def sign_in(self, email: str, password: str) -> httpx.Response:
        return self.post_form("/accounts/login/", {"login": email, "password": password})

    def close(self) -> None:
        self.client.close()
