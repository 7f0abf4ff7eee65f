"""Performance from the ledger: value history, returns, benchmark, risk and attribution (selectors;
the pages are advisor/performance.py)."""
