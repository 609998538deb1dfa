"""The policy bench: explore-exploit policies on worlds nobody tuned them to (`creativeloop eval policies`).

Data, policies and metrics are kept apart (Open Bandit Pipeline's separation):

- `worlds`: world generators (`WORLDS`), each a structure of products, creatives, users in hidden
  segments and a hidden click model; `build_stream(spec, seed, n)` draws one instance, a fixed
  request stream with one uniform per request (common random numbers).
- `references`: the reference policies (uniform random, ranking's per-creative Thompson
  sampling, shared LinUCB and LinTS, Vowpal Wabbit ``--cb_explore_adf`` with epsilon-greedy and
  SquareCB, the oracles) and the adapter that runs any ranking `Policy` on the bench.
- `runner`: serves a stream through a policy, feeding outcomes back as they arrive; seeds from
  `worlds.HELD_BACK_FROM` on are refused unless the run is final.
- `report`: lift vs random, % of oracle, tail % of oracle, regret, recovery after drift; tables
  and plots.
"""
