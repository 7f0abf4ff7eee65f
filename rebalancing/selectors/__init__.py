"""Reads that feed the engine and the pages. Plain data out (numpy, pandas, dataclasses), a
fixed number of queries however many portfolios a call covers.

- `lots`: the one loader of open lots as float arrays (binary COPY on PostgreSQL).
- `policies`: the one policy resolver (own policy, else the model's, else the defaults).
- `holdings`: holdings fingerprints (has a proposal's account changed since?).
- `drift`: everything one drift-check batch needs.
- `drawdown`: households fallen beyond their stated tolerance (the console's flag).
- `tax_saved`: the household's tax saved by executed harvests.
- `harvest`: harvest settings and the wash-sale guard (purchases, blocks, replacements).
"""
