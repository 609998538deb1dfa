"""Off-policy evaluation: estimate a new policy's CTR from logs of another (IPS, SNIPS, DR).

- `estimators`: IPS, SNIPS, DR with seeded bootstrap intervals;
- `policies`: evaluation policies and the reward model for the Open Bandit Dataset, Vowpal
  Wabbit (optional); Thompson sampling is ranking's serving class (`creativeloop.ranking.policies`),
  evaluated through its `probabilities` / `slate_probabilities`, not a copy;
- `obd_report`: the OPE table on OBD (`creativeloop ope obd`);
- `own_logs`: OPE on CreativeLoop's own Impression / Click logs, e.g. a demo run's.
"""
