"""Off-policy evaluation: estimate a new policy's CTR from logs of another (IPS, SNIPS, DR)."""
