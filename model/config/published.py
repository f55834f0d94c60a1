"""Priors of the pooled yearly model of the published tables (``published`` in the config).

The section of :class:`model.config.carecast.CarecastConfig` that ``model.fit.published``
reads. Every prior is a distribution and its arguments (PyMC's names), as in ``priors``.
Rates are yearly: exits as log-odds of a child at risk ceasing within the year, counts as
log of the yearly count per 10,000 children aged 0-17. Hyperpriors are shared by every
authority, so small authorities borrow strength from the others.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from model.config.fit import Prior, prior_spec


class PublishedPriorsConfig(BaseModel):
    """Hyperpriors of the pooled yearly model of every authority's published figures."""

    model_config = ConfigDict(extra="forbid", strict=True)

    exit_log_odds: Prior = Field(
        default_factory=lambda: prior_spec("Normal", mu=-1.0, sigma=1.0),
        description="National mean log-odds that a child at risk (in care at the start of "
        "the year or starting in it) ceases within the year (-1: about 27%).",
    )
    exit_authority_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.5),
        description="Spread of the authorities' exit log-odds around the national mean.",
    )
    exit_drift_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.1),
        description="Year-to-year step of the national drift in the exit log-odds.",
    )
    exit_overdispersion: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.2),
        description="1/sqrt(concentration) of the beta-binomial of children ceasing: how "
        "much a year's exit share varies beyond chance (0: binomial).",
    )
    reason_log_odds: Prior = Field(
        default_factory=lambda: prior_spec("Normal", mu=0.0, sigma=1.5),
        description="National log-odds of each exit reason against returning home.",
    )
    reason_authority_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.5),
        description="Spread of the authorities' reason log-odds around the national ones.",
    )
    reason_drift_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.2),
        description="Year-to-year step of the national drift in each reason's log-odds.",
    )
    reason_overdispersion: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.2),
        description="1/sqrt(concentration) of the Dirichlet-multinomial of exit reasons "
        "(0: multinomial).",
    )
    rate_log_mean: Prior = Field(
        default_factory=lambda: prior_spec("Normal", mu=4.0, sigma=2.0),
        description="National mean log of each yearly count per 10,000 children aged 0-17 "
        "(entries to care, referrals, plans started, children in need, on a plan; 4: 55).",
    )
    rate_authority_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=1.0),
        description="Spread of the authorities' log rates around the national mean.",
    )
    rate_walk_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.2),
        description="Year-to-year step of each authority's random walk in a log rate "
        "(one step size per measure, shared by the authorities).",
    )
    rate_noise_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.2),
        description="Spread of a year's log rate around its authority's walk: year-to-year "
        "noise that does not persist (0.1: about 10%).",
    )
    national_momentum: Prior | None = Field(
        default=None,
        description="Persistence (0 to 1) of the national walks' year-to-year steps (the "
        "exit drift and each count's national walk), e.g. {dist: Beta, alpha: 2, beta: 2}: "
        "each step is this times the last plus a fresh shock, so a national trend carries "
        "on, fading, into the forecast. null (the default): independent steps, a pure "
        "random walk. Off by default: in the rolling-origin back-test of 2013-2018 it left "
        "the skill for children looked after unchanged (0.078 either way) and lowered it "
        "for the CIN figures by 0.006-0.014.",
    )
    rate_national_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.1),
        description="Year-to-year step of the national random walk every authority "
        "shares, in a log rate (one per measure; 0.05: about 5% nationally a year).",
    )
