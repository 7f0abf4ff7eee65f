"""Performance from the ledger: value history, returns, benchmark, risk and attribution pages."""
