"""Settings of the ranking service (prefix CREATIVELOOP_RANKING_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from creativeloop.kit.settings import ServiceSettings

Policy = Literal["thompson", "hybrid", "lints", "shared"]
#: The `apprentice_policy` setting: a `Policy`, or "" for none.
ApprenticePolicy = Literal["", "thompson", "hybrid", "lints", "shared"]


class RankingSettings(ServiceSettings):
    """Ranking service: explore-exploit policy, CTR model repository, features and request limits."""

    model_config = SettingsConfigDict(env_prefix="CREATIVELOOP_RANKING_", extra="ignore")

    grpc_port: int = Field(50054, ge=0, le=65535, description="gRPC port (0 picks a free port).")
    metrics_port: int = Field(9104, ge=0, le=65535, description="Port of `/metrics`.")
    policy: Policy = Field(
        "hybrid",
        description=(
            "`thompson`: context-free Beta-Thompson sampling; `hybrid`: Beta-Thompson whose prior per "
            "creative comes from the CTR model's prediction for the user (uniform prior, i.e. `thompson`, "
            "while no model is loaded); `lints`: linear Thompson sampling over the feature vector; "
            "`shared`: one Bayesian logistic model of click on request features crossed with creative "
            "features (elements, numeric attributes, embeddings), learnt from every outcome, explored "
            "by inverse-gap weighting with exact propensities."
        ),
    )
    apprentice_policy: ApprenticePolicy = Field(
        "",
        description=(
            "A candidate policy run in shadow beside the serving one (apprentice mode; empty: none): on "
            "every Rank it also chooses, without changing the response, and `RankResponse.apprentice` "
            "carries its choice and its probability of the served creative, which the ad server logs "
            "on `Impression.apprentice` for `creativeloop ope gate`. It learns from the same outcomes. "
            "Must differ from `policy`; a promotion on `ranking.policy` swaps the two."
        ),
    )
    prior_alpha: float = Field(1.0, gt=0, description="Beta prior pseudo-clicks per creative (no model).")
    prior_beta: float = Field(1.0, gt=0, description="Beta prior pseudo-non-clicks per creative (no model).")
    prior_strength: float = Field(
        100.0,
        gt=0,
        description=(
            "Hybrid policy: pseudo-impressions n0 of the model prior, "
            "Beta(n0·p̂ + clicks, n0·(1 − p̂) + impressions − clicks)."
        ),
    )
    min_bucket_impressions: float = Field(
        200.0,
        ge=0,
        description=(
            "Use a creative's counts for the request's context bucket once they reach this many "
            "impressions; below it, its counts over all contexts."
        ),
    )
    propensity_samples: int = Field(
        1000,
        ge=10,
        le=100_000,
        description=(
            "Posterior draws (sequential slates for shared) for Monte Carlo probabilities: lints's "
            "propensity, and the marginal propensities of the slots after the first in a multi-slot "
            "Rank and in slate probabilities (thompson, hybrid and shared compute the first slot's "
            "exactly). Standard error at most 0.5/sqrt(draws), e.g. 0.016 for 1000."
        ),
    )
    model_dir: Path = Field(
        Path("deploy/models/ranker"),
        description=(
            "Model repository of the LightGBM CTR model: `<version>/model.txt` + `metadata.json`; "
            "the greatest version name is the newest (relative to the working directory)."
        ),
    )
    model_poll_s: float = Field(
        10.0, ge=0, description="Seconds between checks for a newer model version (0: only at start)."
    )
    max_users: int = Field(
        100_000, ge=1, description="Users whose recent behaviour is kept (least recently seen dropped)."
    )
    state_lookback_s: float = Field(
        900.0,
        ge=0,
        description=(
            "At start, read `bandit.stats` and `user.behaviour` from the records of the last this many "
            "seconds only (the bandit re-publishes every creative and user at least every "
            "`CREATIVELOOP_BANDIT_REFRESH_S`, default 300): start-up does not grow with the history. "
            "0 reads them from the beginning (enough on a compacting broker)."
        ),
    )
    user_history: int = Field(
        200, ge=1, description="Most recent impressions (and their clicks) kept per user for features."
    )
    lints_ridge: float = Field(1.0, gt=0, description="LinTS: ridge (prior precision) of the weights.")
    lints_scale: float = Field(
        0.05, gt=0, description="LinTS: scale of the posterior the weights are sampled from (exploration)."
    )
    lints_pending: int = Field(
        100_000,
        ge=1,
        description="LinTS: impressions whose feature vectors are kept to credit a later click.",
    )
    reward_wait_s: float = Field(
        10.0,
        ge=0,
        description=(
            "`shared`: seconds an impression waits for its click before the policy learns it as not "
            "clicked (the default reward); a click after that is not learnt."
        ),
    )
    max_candidates: int = Field(
        500,
        ge=1,
        description="Most candidates one Rank request may name; more is INVALID_ARGUMENT.",
    )
    max_slots: int = Field(
        10,
        ge=1,
        description=(
            "Most slots (`RankRequest.slots`) one Rank may fill; more, or more than the live "
            "candidates, is INVALID_ARGUMENT."
        ),
    )
    seed: int | None = Field(None, description="Seed of the policy's random generator (None: fresh).")

    @model_validator(mode="after")
    def _apprentice_differs(self) -> RankingSettings:
        if self.apprentice_policy == self.policy:
            raise ValueError(f"apprentice_policy {self.apprentice_policy!r} is the serving policy")
        return self
