"""Goals: retirement, a home, an emergency fund; their Monte Carlo projections and pages."""
