"""Pages of the rebalancing app: proposals (inbox, detail, approval), drift (check now),
taxes (the yearly report). Every object is fetched scoped to request.user."""
