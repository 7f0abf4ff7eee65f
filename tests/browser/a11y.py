"""Accessibility and phone-width checks for the browser tests.

`check_page(page)` runs axe-core (npm package, see package.json) on the page as it is and fails
on any serious or critical violation, then narrows the window to a 390 px phone and fails when
the page scrolls sideways. The script is evaluated through the DevTools protocol, which the
page's Content-Security-Policy does not apply to, so the check sees the page exactly as served.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
SERIOUS = {"serious", "critical"}


@functools.cache
def _axe_source() -> str:
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` (make install-dev does)"
    return AXE.read_text()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the current page (WCAG 2.1 A and AA)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    result = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
            resultTypes: ['violations'],
        })"""
    )
    return [v for v in result["violations"] if v["impact"] in SERIOUS]


def overflow_at_phone_width(page: Any) -> int:
    """How many CSS pixels wider than a 390 px screen the page is (0 when it fits)."""
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        page.wait_for_timeout(50)  # one layout pass
        return int(
            page.evaluate(
                "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
                " - window.innerWidth"
            )
        )
    finally:
        if size:
            page.set_viewport_size(size)


def check_page(page: Any, name: str = "") -> None:
    """No serious or critical axe-core violation, and no sideways scrolling at 390 px."""
    label = name or page.url
    problems = [
        f"{v['id']} ({v['impact']}): {v['help']} -- "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
        for v in axe_violations(page)
    ]
    assert not problems, f"axe-core on {label}:\n" + "\n".join(problems)
    extra = overflow_at_phone_width(page)
    assert extra <= 0, f"{label} is {extra}px wider than a 390px phone screen"
