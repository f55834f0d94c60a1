"""Robustness of the per-authority fit: a panel of synthetic authorities fitted at the
default settings, each fit's diagnostics held to a margin stricter than the pass thresholds.

The panel (:func:`panel`) spans what the fit meets: 20 authorities whose 0-17 populations
spread over the generator's range (``model.synth.authorities.authority_specs``: about 100 to
1,000 children in care), 4 to 10 years of returns, every other one without the CIN census
(care only). Their data are the generator's true whole-system observations
(``model.synth.truth.true_observations``), so no ingest is needed; the demo's authorities,
written with faults and ingested, are fitted by ``carecast fit`` itself (see
``benchmarks/fit_panel.py``).

The margin (:data:`MARGIN`): max R-hat <= 1.005 on every sampled parameter, bulk and tail
ESS >= 400 and no divergent transitions, where a fit passes at R-hat 1.01.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from model.config.fit import DiagnosticsConfig, PriorsConfig, SamplerConfig, StructureConfig
from model.config.seeds import derive_seed
from model.fit.data import FitData, fit_data
from model.fit.diagnostics import diagnose
from model.fit.likelihood import build_model
from model.fit.run import sample
from model.synth.authorities import AuthoritySpec, authority_specs, simulate_authority
from model.synth.truth import true_observations
from model.synth.truth_config import Truth

MARGIN = DiagnosticsConfig(max_rhat=1.005, min_ess_bulk=400, min_ess_tail=400, max_divergences=0)
"""The robustness margin: stricter R-hat than the pass threshold (1.01), same ESS floors."""
PANEL_SIZE = 20
LAST_YEAR = 2025
"""The panel's last year of returns (year ending 31 March)."""


@dataclass(frozen=True)
class PanelMember:
    """One synthetic authority of the panel: who, which years, with the CIN census or not."""

    spec: AuthoritySpec
    first_year: int
    last_year: int
    cin: bool

    @property
    def years(self) -> int:
        """Years of returns fitted."""
        return self.last_year - self.first_year + 1


def panel(truth: Truth, n: int = PANEL_SIZE) -> list[PanelMember]:
    """The first ``n`` members: sizes from ``authority_specs``; years of returns cycling
    through 4..10 (member i has ``4 + (3 i mod 7)``, so that sizes and lengths mix); the CIN
    census for even i."""
    return [
        PanelMember(spec, LAST_YEAR - (4 + (3 * i) % 7) + 1, LAST_YEAR, cin=i % 2 == 0)
        for i, spec in enumerate(authority_specs(truth, n))
    ]


def member_data(member: PanelMember, truth: Truth, seed: int) -> FitData:
    """The member's true observations as the fit sees them (default structure)."""
    simulated = simulate_authority(truth, member.spec, member.first_year, member.last_year, seed)
    return fit_data(
        true_observations(simulated), StructureConfig(), member.spec.code, use_cin=member.cin
    )


def children_in_care(data: FitData) -> float:
    """Mean children looked after over the month ends fitted."""
    care = [data.states.index(s) for s in data.care_states]
    return float(data.stock[:, care].sum(axis=(1, 2)).mean())


def fit_member(
    data: FitData,
    seed: int,
    sampler: SamplerConfig | None = None,
    priors: PriorsConfig | None = None,
) -> dict[str, object]:
    """Fit one authority's data at ``sampler`` (default: the defaults) and return its
    diagnostics against :data:`MARGIN`: ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``,
    ``divergences``, the worst variables, ``seconds`` (build, compile and sampling) and
    ``problems`` (empty: within the margin)."""
    start = time.perf_counter()
    model = build_model(data, priors)
    trace = sample(model, sampler or SamplerConfig(), derive_seed(seed, data.authority, "fit"))
    seconds = time.perf_counter() - start
    verdict = diagnose(trace, MARGIN, [v.name for v in model.free_RVs])
    by_variable = verdict["by_variable"]

    def worst(key: str, pick: object) -> str:
        values = {k: v[key] for k, v in by_variable.items() if v[key] is not None}
        return pick(values, key=values.get) if values else ""  # type: ignore[operator]

    return {
        "authority": data.authority,
        "children_in_care": round(children_in_care(data)),
        "years": len(data.windows),
        "cin": "cin" in data.states,
        "max_rhat": verdict["max_rhat"],
        "rhat_worst": worst("rhat", max),
        "min_ess_bulk": verdict["min_ess_bulk"],
        "bulk_worst": worst("ess_bulk", min),
        "min_ess_tail": verdict["min_ess_tail"],
        "tail_worst": worst("ess_tail", min),
        "divergences": verdict["divergences"],
        "seconds": seconds,
        "problems": verdict["problems"],
    }


def summary_line(row: dict[str, object]) -> str:
    """One fit's figures on a line."""
    return (
        f"{row['authority']}: {row['children_in_care']} in care, {row['years']} y, "
        f"{'CIN' if row['cin'] else 'care only'}; R-hat {row['max_rhat']:.4f} "
        f"({row['rhat_worst']}), ESS bulk {row['min_ess_bulk']:.0f} ({row['bulk_worst']}), "
        f"tail {row['min_ess_tail']:.0f} ({row['tail_worst']}), "
        f"{row['divergences']} divergences, {row['seconds']:.1f} s"
    )
