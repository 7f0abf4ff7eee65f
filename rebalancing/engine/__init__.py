"""Pure computation for rebalancing and harvesting: numpy/pandas in, numpy/pandas out.

Never imports Django (a test checks). Weights are fractions; money is float64 here and is
quantized to Decimal by the services that write results.
"""
