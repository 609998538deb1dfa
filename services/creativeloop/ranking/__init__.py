"""Creative selection: pick the creative to show with explore-exploit, log its propensity."""
