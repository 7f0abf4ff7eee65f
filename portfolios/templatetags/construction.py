"""`{% model_on_frontier model %}`: a small chart of where a model portfolio sits on the
efficient frontier of the asset classes on offer (the risk result page includes it)."""

from typing import Any

from django import template

from portfolios.analytics.errors import PortfolioError
from portfolios.construction import compute, selectors
from portfolios.models import ModelPortfolio

register = template.Library()


@register.inclusion_tag("construction/_model_frontier.html")
def model_on_frontier(model: ModelPortfolio) -> dict[str, Any]:
    codes = [c.code for c in selectors.asset_classes()]
    if not codes:
        return {"model": model, "chart": {}, "shown": False}
    universe = compute.cma_universe(codes)
    weights = selectors.published_weights(model)
    try:
        curve = compute.frontier(universe)
    except PortfolioError:
        curve = []
    points = [compute.placed(model.name, universe, weights)] if weights else []
    return {"model": model, "chart": {"frontier": curve, "points": points}, "shown": bool(curve)}
