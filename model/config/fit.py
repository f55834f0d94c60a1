"""Configuration of the stock-flow model and its fit: structure, priors, sampler, diagnostics.

These models are sections of :class:`model.config.carecast.CarecastConfig` (``structure``,
``priors``, ``sampler``, ``diagnostics`` in ``config/config.yaml``). The structure is the one
definition the likelihood (``model.fit``) and the forecast simulator share.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator, model_validator
from pydantic_core import PydanticCustomError

from model.codes import AGE_BANDS, CARE_STATES

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=40)]

DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "Normal": ("mu", "sigma"),
    "HalfNormal": ("sigma",),
    "StudentT": ("nu", "mu", "sigma"),
    "HalfStudentT": ("nu", "sigma"),
    "Exponential": ("lam",),
    "Gamma": ("alpha", "beta"),
    "Beta": ("alpha", "beta"),
}
"""Prior distributions a user may name, with the arguments each needs (PyMC's names)."""


class Prior(BaseModel):
    """A prior: a distribution name and its arguments, e.g. ``{dist: Normal, mu: 0,
    sigma: 1}``."""

    model_config = ConfigDict(extra="allow", strict=False)

    dist: Literal[tuple(DISTRIBUTIONS)]  # type: ignore[valid-type]

    @property
    def args(self) -> dict[str, float]:
        """The distribution's arguments (everything but ``dist``)."""
        return {k: float(v) for k, v in (self.model_extra or {}).items()}

    @model_validator(mode="after")
    def _arguments(self) -> Prior:
        needed = set(DISTRIBUTIONS[self.dist])
        given = set(self.model_extra or {})
        if given != needed:
            raise PydanticCustomError(
                "prior_arguments",
                "{dist} with arguments {needed} (got {given})",
                {"dist": self.dist, "needed": ", ".join(sorted(needed)),
                 "given": ", ".join(sorted(given)) or "none"},
            )  # fmt: skip
        for name, value in (self.model_extra or {}).items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise PydanticCustomError("prior_number", "a number for {name}", {"name": name})
            if name != "mu" and value <= 0:
                raise PydanticCustomError("prior_positive", "a positive {name}", {"name": name})
        return self


def prior_spec(dist: str, **args: float) -> Prior:
    """A prior of the config: a PyMC distribution's name and its arguments."""
    return Prior(dist=dist, **args)


class StructureConfig(BaseModel):
    """Which states, age bands, flows and feedback terms the model has."""

    model_config = ConfigDict(extra="forbid", strict=True)

    placement_groups: dict[str, Name] = Field(
        default_factory=lambda: {g: g for g in CARE_STATES},
        description="Each ingest placement group -> the model's placement group. Map "
        "several to one name to merge them (e.g. foster_kin and foster_other -> foster).",
    )
    age_bands: dict[str, Name] = Field(
        default_factory=lambda: {b: b for b in AGE_BANDS},
        description="Each DfE age band -> the model's age band. Merge only neighbouring "
        "bands (e.g. under_1 and 1_to_4 -> under_5).",
    )
    cin_funnel: bool = Field(
        default=True,
        description="Model children in need and on child protection plans as stocks that "
        "feed care (needs CIN census observations; off, or no CIN data, models care only).",
    )
    transition_drift: bool = Field(
        default=True,
        description="Let each state's departure rate drift slowly from year to year "
        "(a random walk on the log-odds scale).",
    )
    capacity_feedback: bool = Field(
        default=False,
        description="Let entry and exit rates shift with the care population relative to "
        "placement capacity (each authority's mean care population over the fit unless "
        "`capacity` names one).",
    )
    capacity: dict[str, PositiveFloat] = Field(
        default_factory=dict,
        description="Placement capacity (children) per authority code, for capacity_feedback.",
    )
    workforce_feedback: bool = Field(
        default=False,
        description="Let case closures and escalations (child in need -> plan -> care) shift "
        "with open cases per social worker (needs CIN data and `workforce` for every year "
        "fitted).",
    )
    workforce: dict[str, dict[int, PositiveFloat]] = Field(
        default_factory=dict,
        description="Children's social workers (full-time equivalent) per authority code and "
        "year ending 31 March, e.g. {E09000002: {2023: 180.5, 2024: 176.0}}, for "
        "workforce_feedback.",
    )

    @field_validator("placement_groups")
    @classmethod
    def _every_group(cls, groups: dict[str, str]) -> dict[str, str]:
        missing = [g for g in CARE_STATES if g not in groups]
        unknown = [g for g in groups if g not in CARE_STATES]
        if missing or unknown:
            raise ValueError(
                f"one entry for each of {', '.join(CARE_STATES)}"
                + (f" (missing: {', '.join(missing)})" if missing else "")
                + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            )
        return groups

    @field_validator("age_bands")
    @classmethod
    def _neighbouring_bands(cls, bands: dict[str, str]) -> dict[str, str]:
        if list(bands) != list(AGE_BANDS):
            raise ValueError(f"one entry for each of {', '.join(AGE_BANDS)}, in that order")
        names = list(bands.values())
        runs = [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
        if len(runs) != len(set(runs)):
            raise ValueError("merged age bands must be neighbours")
        return bands


class PriorsConfig(BaseModel):
    """Weakly informative priors, each a distribution and its arguments (PyMC's names).
    Rates are monthly log-odds against staying put; entries are per month."""

    model_config = ConfigDict(extra="forbid", strict=True)

    transition_log_odds: Prior = Field(
        default_factory=lambda: prior_spec("Normal", mu=-4.0, sigma=2.0),
        description="Baseline log-odds of each move or exit per month (-4: about 2%).",
    )
    age_effect_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=1.0),
        description="Spread of age-band effects on each transition's log-odds.",
    )
    authority_effect_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.5),
        description="Pooled fits: spread between authorities of each transition's log-odds "
        "and of each entry stream's log level (partial pooling).",
    )
    drift_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.1),
        description="Year-to-year step of the drift in each state's departure log-odds.",
    )
    entry_log_rate: Prior = Field(
        default_factory=lambda: prior_spec("Normal", mu=2.0, sigma=3.0),
        description="Log of the mean entries per month of each entry stream at the start.",
    )
    entry_walk_sd: Prior = Field(
        default_factory=lambda: prior_spec("HalfNormal", sigma=0.2),
        description="Year-to-year step of the random walk in log entry rates.",
    )
    entry_dispersion: Prior = Field(
        default_factory=lambda: prior_spec("Gamma", alpha=2.0, beta=0.05),
        description="Negative binomial shape of monthly entries (large: nearly Poisson).",
    )
    composition_concentration: PositiveFloat = Field(
        default=0.5,
        description="Dirichlet concentration per cell of where entries go (placement group "
        "and age band); the posterior is conjugate, drawn exactly, not sampled.",
    )
    landing_concentration: PositiveFloat = Field(
        default=1.0,
        description="Beta prior (both shapes) of the share of exits from care, by reason, "
        "that land in an open CIN case; conjugate, drawn exactly.",
    )
    feedback: Prior = Field(
        default_factory=lambda: prior_spec("Normal", mu=0.0, sigma=0.5),
        description="Feedback effects: change in log-odds (exits) or log rate (entries) per "
        "unit of relative pressure; centred on no effect.",
    )


class SamplerConfig(BaseModel):
    """How the posterior is sampled."""

    model_config = ConfigDict(extra="forbid", strict=True)

    backend: Literal["nutpie", "pymc"] = Field(
        default="nutpie", description="NUTS implementation: nutpie (faster) or PyMC's own."
    )
    chains: int = Field(default=4, ge=1, le=16, description="Independent chains.")
    draws: int = Field(
        default=2000,
        ge=10,
        description="Kept draws per chain (2,000: with 1,000, R-hat of the slowest hierarchical "
        "parameters came out 1.01-1.02 in synthetic authorities that pass with 2,000).",
    )
    national_draws: int = Field(
        default=1000,
        ge=10,
        description="Kept draws per chain of the national fit of published tables (its "
        "parameters mix faster: 1,000 gave bulk ESS 790 and R-hat 1.009 over 150 units).",
    )
    tune: int = Field(
        default=500,
        ge=10,
        description="Warm-up draws per chain, discarded (500: with 300, nutpie's default, 2 "
        "of 20 synthetic authorities' fits missed a threshold; 1,000 adds a sixth to a fit's "
        "time).",
    )
    national_tune: int = Field(
        default=1000,
        ge=10,
        description="Warm-up draws per chain of the national fit of published tables (with "
        "500, its 150 units' fit had R-hat 1.0105 and a divergence; with 1,000 it passes).",
    )
    target_accept: float = Field(
        default=0.98,
        gt=0.5,
        lt=1.0,
        description="NUTS target acceptance rate (0.98: at 0.95, 8 of 20 synthetic "
        "authorities' fits had 1-4 divergent transitions).",
    )
    national_target_accept: float = Field(
        default=0.95,
        gt=0.5,
        lt=1.0,
        description="NUTS target acceptance rate of the national fit (0.95 gives no "
        "divergences there, and higher rates lengthen its 7 minutes).",
    )
    cores: int = Field(default=2, ge=1, le=64, description="Chains run in parallel.")


class DiagnosticsConfig(BaseModel):
    """Thresholds a fit must meet to pass; a fit that misses one is flagged everywhere."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_rhat: float = Field(default=1.01, ge=1.0, description="Largest R-hat allowed.")
    min_ess_bulk: float = Field(default=400, ge=0, description="Smallest bulk ESS allowed.")
    min_ess_tail: float = Field(default=400, ge=0, description="Smallest tail ESS allowed.")
    max_divergences: int = Field(default=0, ge=0, description="Most divergences allowed.")
    min_bfmi: float = Field(default=0.3, ge=0, description="Smallest E-BFMI allowed per chain.")
    interval: float = Field(
        default=0.9, gt=0, lt=1, description="Credible interval reported in summaries."
    )
