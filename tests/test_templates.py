"""Template blocks hold what their name says: a page title is text, not markup."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def test_every_page_title_is_plain_text() -> None:
    marked_up = []
    for path in TEMPLATES.rglob("*.html"):
        for title in re.findall(r"{% block title %}(.*?){% endblock", path.read_text(), re.S):
            if "<" in title:
                marked_up.append(str(path.relative_to(TEMPLATES)))
    assert marked_up == []
