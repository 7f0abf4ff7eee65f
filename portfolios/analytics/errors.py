"""Errors raised by the portfolio-construction modules.

Every error carries machine-readable fields so a service can turn it into a form error without
parsing the message: `code` says what went wrong (a stable identifier), `constraint` names the
constraint, asset, view or input concerned, and `details` holds the numbers involved. The
message is for logs and developers; text for people belongs in templates, keyed by `code`.

Codes used:
  bounds_conflict          an asset's lower bound is above its upper bound
  budget_unreachable       the bounds cannot sum to 1 (fully invested)
  group_conflict           a group's lower bound is above its upper bound, or cannot be met
                           together with the asset bounds or the other groups
  target_return_unreachable  the target return is above the maximum achievable return
  target_volatility_unreachable  the target volatility is below the minimum achievable volatility
  no_excess_return         no feasible portfolio earns more than the risk-free rate (max Sharpe)
  covariance_not_psd       the covariance matrix is not positive semi-definite
  covariance_singular      the covariance matrix is singular on the assets the answer needs
  invalid_input            shapes, labels or values that cannot be used
  unknown_asset            a view, bound or group names an asset that is not in the universe
  missing_data             returns contain missing values where complete data is required
  not_converged            an iterative method did not reach its tolerance (a bug or a
                           pathological input: the residual is in `details`)
"""

from __future__ import annotations

from typing import Any


class PortfolioError(ValueError):
    """Base class: `code`, `constraint` (may be ""), `details` (dict of numbers/labels)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        constraint: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.constraint = constraint
        self.details = dict(details or {})


class InfeasibleError(PortfolioError):
    """The constraints (or a target) cannot be met; `constraint` names the one that fails."""


class InputError(PortfolioError):
    """The inputs cannot be used as given (shape, labels, non-PSD covariance, unknown asset)."""


class ConvergenceError(PortfolioError):
    """An iterative solver stopped before its tolerance; never returned silently."""
