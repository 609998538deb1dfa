"""Quality reports and off-policy evaluation: `creativeloop eval NAME`.

Each module measures one capability on data kept apart from what it was tuned on and prints the
table that docs/quality.md records; `ope` estimates policies' CTR from logs.
"""
