"""Portfolio construction in the product: staff build and review model versions, investors
open the portfolio lab and choose a custom target within their risk guardrails."""
