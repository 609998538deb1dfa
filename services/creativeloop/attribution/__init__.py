"""Element attribution: which creative elements (template, layout, copy, colour...) make creatives
clicked, estimated from the logs with the logged propensities (see `estimator`), published on
`element.attribution` by a stream job (`job`) and queried through `AttributionService` (`service`).

Its own service package (a peer of bandit and ranking, which must not import each other): it needs
the creatives' elements, which the bandit does not read, and it keeps its own impression-click join
because the bandit's join state is internal to its checkpoints (`bandit.stats` has no propensities).
"""
