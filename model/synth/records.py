"""In-memory tables that the synthetic generator's simulation produces.

The simulation (``model.synth.simulate``) returns one :class:`SimulatedAuthority` per
authority. Writers (``model.synth.write_903``, ``model.synth.write_cin``) turn these tables
into files in the real formats; ``model.synth.truth`` turns them into the true monthly stocks
and flows. Every date column is ``datetime64[s]`` (whole days, NaT when absent); every code
column holds the code exactly as DfE defines it (upper case, no padding).

Tables and columns (one row per ...):

``children`` (child)
    child_id (str, LA-local id shared by 903 and CIN), dob, sex ("M"/"F"), ethnicity
    (one of the 20 DfE codes), upn (13 characters, or "" when unknown), upn_unknown
    (UN1-UN7 when upn is "", else ""), uasc (bool), duc (date UASC status ceases, NaT for
    non-UASC children).

``episodes`` (903 episode, full history: dec/rec are the true end, never truncated to a year)
    child_id, decom, rne, ls, cin, place, place_provider, dec (NaT while still open at the
    end of the simulation), rec ("" while open), reason_place_change, home_post, pl_post,
    urn.

``cin_details`` (CIN episode: one referral up to its closure)
    cin_id (int, unique in the authority), child_id, referral_date, referral_source,
    primary_need, closure_date (NaT while open), closure_reason ("" while open),
    referral_nfa (bool).

``assessments``: cin_id, start_date, authorisation_date (NaT while open), factors
    (comma-joined assessment factor codes, "" while the assessment is open).

``section47``: cin_id, start_date, icpc_target, icpc_date (NaT when no conference was
    held), icpc_not_required (bool).

``cpp`` (child protection plan): cin_id, start_date, end_date (NaT while open),
    initial_category, latest_category, n_previous (int), review_dates (tuple of dates).

``cin_plans``: cin_id, start_date, end_date (NaT while open).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

CHILD_COLUMNS = ["child_id", "dob", "sex", "ethnicity", "upn", "upn_unknown", "uasc", "duc"]
EPISODE_COLUMNS = [
    "child_id",
    "decom",
    "rne",
    "ls",
    "cin",
    "place",
    "place_provider",
    "dec",
    "rec",
    "reason_place_change",
    "home_post",
    "pl_post",
    "urn",
]
CIN_DETAIL_COLUMNS = [
    "cin_id",
    "child_id",
    "referral_date",
    "referral_source",
    "primary_need",
    "closure_date",
    "closure_reason",
    "referral_nfa",
]
ASSESSMENT_COLUMNS = ["cin_id", "start_date", "authorisation_date", "factors"]
SECTION47_COLUMNS = ["cin_id", "start_date", "icpc_target", "icpc_date", "icpc_not_required"]
CPP_COLUMNS = [
    "cin_id",
    "start_date",
    "end_date",
    "initial_category",
    "latest_category",
    "n_previous",
    "review_dates",
]
CIN_PLAN_COLUMNS = ["cin_id", "start_date", "end_date"]


@dataclass
class SimulatedAuthority:
    """Everything the simulation knows about one authority.

    ``code`` is the synthetic authority code used in folder names; ``lea`` the 3-digit
    code written in CIN census headers. ``first_year`` and ``last_year`` are years ending
    31 March: the files cover 1 April ``first_year - 1`` to 31 March ``last_year``.
    ``truth_monthly`` holds the true stocks and flows (``model.observations`` columns).
    ``monthly_multipliers`` holds the realised entry-rate trend, one row per month.
    """

    code: str
    lea: str
    name: str
    population_0_17: int
    first_year: int
    last_year: int
    children: pd.DataFrame
    episodes: pd.DataFrame
    cin_details: pd.DataFrame
    assessments: pd.DataFrame
    section47: pd.DataFrame
    cpp: pd.DataFrame
    cin_plans: pd.DataFrame
    monthly_multipliers: pd.DataFrame = field(default_factory=pd.DataFrame)

    def without_children(self, children: set[str]) -> SimulatedAuthority:
        """The same authority without these children's records (for comparing an ingest
        with the truth apart from children whose records a fault made unrecoverable)."""
        keep_cin = ~self.cin_details.child_id.isin(children)
        kept_ids = set(self.cin_details.cin_id[keep_cin])
        return SimulatedAuthority(
            **{
                **self.__dict__,
                "children": self.children[~self.children.child_id.isin(children)],
                "episodes": self.episodes[~self.episodes.child_id.isin(children)],
                "cin_details": self.cin_details[keep_cin],
                **{
                    name: getattr(self, name)[getattr(self, name).cin_id.isin(kept_ids)]
                    for name in ("assessments", "section47", "cpp", "cin_plans")
                },
            }
        )
