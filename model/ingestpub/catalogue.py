"""What each published DfE table holds, in carecast's terms.

A table is recognised by its columns (and, for the long "by characteristic" tables, by the
groups its rows hold), never by its file name. Each specification maps the table's value
columns or categories to carecast figures (``model.observations`` layout, annual measures
named as the child-level ingests name them):

| measure | state | what DfE counts |
| --- | --- | --- |
| ``dfe_looked_after`` | ``looked_after`` or a placement group | children looked after at 31 March |
| ``dfe_started`` | ``looked_after`` | children who started to be looked after in the year |
| ``dfe_ceased`` | ``looked_after`` (``reason``: exit reason group) | children who ceased |
| ``dfe_in_need`` | ``cin`` | children in need at 31 March (CIN episodes open then, b1) |
| ``dfe_on_plan`` | ``cpp`` | children on a child protection plan at 31 March (d5) |
| ``dfe_plans_started`` | ``cpp`` | child protection plans starting in the year (d3) |
| ``dfe_referrals`` | "" | referrals in the year (c1) |
| ``dfe_rereferrals`` | "" | referrals within 12 months of a previous one (c1) |
| ``dfe_s47`` | "" | section 47 enquiries starting in the year (c4) |
| ``dfe_icpc`` | "" | initial child protection conferences in the year (c4) |
| ``population`` | "" | children aged 0-17 (ONS mid-year estimate) |

**Population period.** The ONS file's ``time_period`` T is the mid-year (30 June) of the
estimate. DfE divides the figures of the year ending 31 March T+1 by the mid-T estimate
(checked against the rate per 10,000 files for every authority, 2019-2021), so the estimate
of mid-T is the ``population`` row of period (T+1)-03-31. Population comes from that file
only: the ``population_estimate`` columns of the CLA files repeat it as each year's
denominator and are not read.

**Totals read once per table.** Where a table repeats its total in several groups (the
stock file's "Placement | Total", the ceased file's "Reason episode ceased | Total"), one
is read (the age group's) and the others are not, so that a total is never added twice.

**Placement groups** (state of ``dfe_looked_after`` rows). Each DfE placement category is
written as the 903 PLACE codes it holds, and goes to a model group through the same
PLACE -> group table the 903 ingest uses (``model.codes.PLACE_GROUP``, or the config's
``categories.place_groups``). A category is used only when all its codes go to one group and
every other category holding codes of that group does too, so a published group figure is
always the whole group:

| DfE category (years) | PLACE codes | group |
| --- | --- | --- |
| foster with relative or friend (SFR 2010 ``Q1``) | U1-U3 | foster_kin |
| other foster carer (SFR 2010 ``Q2``) | U4-U6 | foster_other |
| foster placements (2011 on) | U1-U6 | not used (2 groups) |
| placed for adoption | A3-A6 | adoption |
| placed with parents | P1 | with_parents |
| independent and semi-independent living (2021 on) | H5, P2, P3, K3 | supported |
| secure homes and children's homes (2021 on) | K1, K2 | residential |
| other residential settings | R1, R2, R3, R5 | residential |
| residential schools | S1 | residential |
| other placements | Z1 (Z11-Z14 from 2026) | other |
| secure units, children's homes, hostels (2011-2017) | K1, K2, H5 | not used (2 groups) |
| other placements in the community (2011-2017) | P2, P3 | not used (no H5) |
| missing from placement (2010-2014) | M1-M3 | not used (no group) |

So 2010 gives every group, 2011-2017 adoption, with_parents and other, and 2021 every group
but the two foster groups. Where DfE puts P3 (residential employment, a handful of children)
after 2020 is not confirmed; either way it goes to ``supported`` only if all its category
does.

**Exit reasons** (``reason`` of ``dfe_ceased`` rows). Each DfE reason category is written as
the 903 REC codes it holds and grouped through ``model.codes.REC_REASON`` (or the config's
``categories.exit_reasons``), with the same rule: adopted (E11, E12) -> adoption; returned
home (E4A, E4B; before 2015 one category) and left care to live with parents or relatives
without parental responsibility (E13) -> return_home; residence / child arrangements order
(E41) and special guardianship orders (E43-E48) -> sgo_cao; independent living with or
without support (E5, E6), transferred to adult residential care (E7) and aged 18 and stayed
with carers (E17) -> independence; died (E2), care taken by another authority (E3), custody
(E9), remand ended (E14), age assessment (E15), moved abroad (E16) and any other reason
(E8) -> other.

**Age bands.** ``model.codes.AGE_BANDS`` are DfE's bands: under 1, 1-4, 5-9, 10-15 and "16
and over", which for children looked after, starting or ceasing is 16-17 (ceasing: "16",
"17" and "18 and over" together; a child ceasing on their 18th birthday is 17 the day
before). Stocks are by age at 31 March, as carecast counts them. DfE gives the age on the day
a child starts or ceases; carecast's flows use the band on the day before, which differs only
for a child starting or ceasing on the birthday that moves them up a band.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from model.codes import PLACE_GROUP, REC_REASON

LOOKED_AFTER = "looked_after"


@dataclass(frozen=True)
class Target:
    """The carecast figure a DfE value belongs to, or (``measure`` "") why it is not used."""

    measure: str = ""
    state: str = ""
    age_band: str = ""
    reason: str = ""
    note: str = ""


def norm(text: str) -> str:
    """A DfE label compared loosely: lower case, typographic apostrophes straightened,
    single spaces, no surrounding space."""
    return " ".join(text.replace("\u2019", "'").casefold().split())


def _codes(*names: str) -> frozenset[str]:
    return frozenset(names)


FOSTER = _codes("U1", "U2", "U3", "U4", "U5", "U6")
ADOPTION = _codes("A3", "A4", "A5", "A6")
MISSING = _codes("M1", "M2", "M3")

EES_PLACEMENTS: dict[str, frozenset[str]] = {
    "foster placements": FOSTER,
    "placed for adoption": ADOPTION,
    "placed with parents or other person with parental responsibility": _codes("P1"),
    "placed with parents": _codes("P1"),
    "independent and semi-independent living arrangements/supported accommodation": _codes(
        "H5", "P2", "P3", "K3"
    ),
    "secure homes and children's homes": _codes("K1", "K2"),
    "secure units, children's homes and semi-independent living accommodation": _codes(
        "K1", "K2", "H5"
    ),
    "other placements in the community": _codes("P2", "P3"),
    "other residential settings": _codes("R1", "R2", "R3", "R5"),
    "residential schools": _codes("S1"),
    "other placements": _codes("Z1", "Z11", "Z12", "Z13", "Z14"),
}
"""EES placement categories (stock at 31 March) as the PLACE codes they hold."""

SFR_PLACEMENTS: dict[str, frozenset[str]] = {
    "CLA_Fost": FOSTER,
    "CLA_Adopt": ADOPTION,
    "CLA_Parent": _codes("P1"),
    "CLA_Ocom": _codes("P2", "P3"),
    "CLA_Secure": _codes("K1", "K2", "H5"),
    "CLA_Ores": _codes("R1", "R2", "R3", "R5"),
    "CLA_RSch": _codes("S1"),
    "CLA_Miss": MISSING,
    "CLA_OthPl": _codes("Z1"),
}
"""SFR 2011-2017 placement columns (stock at 31 March) as PLACE codes."""

SFR_2010_PLACE_ALIASES: dict[str, frozenset[str]] = {
    "Q1": _codes("U1", "U2", "U3"),
    "Q2": _codes("U4", "U5", "U6"),
}
"""SFR 2010 columns ``MarPlace_<code>_2010`` name PLACE codes; Q1/Q2 were the foster codes
before U1-U6 (foster with a relative or friend / with another carer)."""

RETURNED_HOME = _codes("E4A", "E4B")
SGO = _codes("E43", "E44", "E45", "E46", "E47", "E48")

EES_REASONS: dict[str, frozenset[str]] = {
    "adopted": _codes("E11", "E12"),
    "died": _codes("E2"),
    "care taken by another local authority": _codes("E3"),
    "returned home to live with parents or other person with parental responsibility which "
    "was part of the care planning process": _codes("E4A"),
    "returned home to live with parents or other person with parental responsibility which "
    "was not part of the care planning process": _codes("E4B"),
    "left care to live with parents, relatives or other person with no parental "
    "responsibility": _codes("E13"),
    "residence order or child arrangement order granted": _codes("E41"),
    "special guardianship order": SGO,
    "special guardianship orders": SGO,
    "moved into independent living (with supportive accommodation)": _codes("E5"),
    "moved into independent living (with no formalised support)": _codes("E6"),
    "transferred to residential care funded by adult social services": _codes("E7"),
    "sentenced to custody": _codes("E9"),
    "accommodation on remand ended": _codes("E14"),
    "age assessment determined child aged 18 or over": _codes("E15"),
    "child moved abroad": _codes("E16"),
    "aged 18 (or over) and remained with current carers": _codes("E17"),
    "care ceased for any other reason": _codes("E8"),
}
"""EES reasons episode ceased as the REC codes they hold."""

SFR_REASONS: dict[str, frozenset[str]] = {
    # 2010
    "CeasedAdoptUnop": _codes("E11"),
    "CeasedAdoptDisp": _codes("E12"),
    "CeasedDied": _codes("E2"),
    "CeasedAnotherLA": _codes("E3"),
    "CeasedHome": RETURNED_HOME,
    "CeasedResOrd": _codes("E41"),
    "CeasedSpeGuaForm": _codes("E43"),
    "CeasedSpecGuaOth": _codes("E44"),
    "CeasedIndSup": _codes("E5"),
    "CeasedIndNoSup": _codes("E6"),
    "CeasedAduCare": _codes("E7"),
    "CeasedCust": _codes("E9"),
    "CeasedOther": _codes("E8"),
    # 2011-2016
    "CLA_ceaAdop": _codes("E11"),
    "CLA_ceaAdop1": _codes("E11"),
    "CLA_ceaAdop2": _codes("E12"),
    "CLA_ceaDied": _codes("E2"),
    "CLA_ceataken": _codes("E3"),
    "CLA_ceaPar": RETURNED_HOME,
    "CLA_ceaParPlan": _codes("E4A"),
    "CLA_ceaParNPlan": _codes("E4B"),
    "CLA_ceaNoPar": _codes("E13"),
    "CLA_ceaROG": _codes("E41"),
    "CLA_ceaSpecG": _codes("E43"),
    "CLA_ceaSpecG1": _codes("E43"),
    "CLA_ceaSpecG2": _codes("E44"),
    "CLA_ceaIndLiv": _codes("E5"),
    "CLA_ceaIndLiv1": _codes("E5"),
    "CLA_ceaIndLiv2": _codes("E6"),
    "CLA_cea_tran_res": _codes("E7"),
    "CLA_cea_sen_cust": _codes("E9"),
    "CLA_ceaRemEnd": _codes("E14"),
    "CLA_ceaAgeAssmt": _codes("E15"),
    "CLA_ceaAbroad": _codes("E16"),
    "CLA_cea_OthRea": _codes("E8"),
    # 2017
    "CEA_Adop1": _codes("E11"),
    "CEA_Adop2": _codes("E12"),
    "CEA_Died": _codes("E2"),
    "CEA_Taken": _codes("E3"),
    "CEA_ParPlan": _codes("E4A"),
    "CEA_ParNPlan": _codes("E4B"),
    "CEA_NoPar": _codes("E13"),
    "CEA_CAO": _codes("E41"),
    "CEA_SGO1": _codes("E43"),
    "CEA_SGO2": _codes("E44"),
    "CEA_IndLiv1": _codes("E5"),
    "CEA_IndLiv2": _codes("E6"),
    "CEA_Residential": _codes("E7"),
    "CEA_Custody": _codes("E9"),
    "CEA_RemEnd": _codes("E14"),
    "CEA_AgeAssmt": _codes("E15"),
    "CEA_Abroad": _codes("E16"),
    "CEA_Other": _codes("E8"),
}
"""SFR ceased-by-reason columns (2010-2017) as REC codes."""

EES_AGES: dict[str, str] = {
    "under 1 year": "under_1",
    "1 to 4 years": "1_to_4",
    "5 to 9 years": "5_to_9",
    "10 to 15 years": "10_to_15",
    "16 years and over": "16_to_17",
    "16 years": "16_to_17",
    "17 years": "16_to_17",
    "18 years and over": "16_to_17",
}
"""EES age categories -> carecast age bands (see the module notes on 16 and over)."""


def grouped_categories(
    categories: Mapping[str, frozenset[str]], code_group: Mapping[str, str], kind: str
) -> dict[str, tuple[str, str]]:
    """Each category -> (group, note): the one group all its codes go to, or "" with the
    reason it cannot be used. ``categories`` are those present in one table; a category is
    also unusable when its group has codes in a category that spans several groups (the
    group's figure would be incomplete). ``kind`` names the groups in notes."""
    groups = {
        label: {code_group[c] for c in codes if c in code_group}
        for label, codes in categories.items()
    }
    mixed = {label for label, found in groups.items() if len(found) > 1}
    tainted: dict[str, str] = {}
    for label in sorted(mixed):
        for group in groups[label]:
            tainted.setdefault(group, label)
    out: dict[str, tuple[str, str]] = {}
    for label, found in groups.items():
        if not found:
            codes = ", ".join(sorted(categories[label]))
            out[label] = ("", f"no model {kind} for its codes ({codes})")
        elif len(found) > 1:
            out[label] = ("", f"spans several {kind}s ({', '.join(sorted(found))})")
        else:
            (group,) = found
            if group in tainted:
                out[label] = (
                    "",
                    f"{kind} {group} is incomplete here: some of its codes are in "
                    f"'{tainted[group]}', which spans several {kind}s",
                )
            else:
                out[label] = (group, "")
    return out


def placement_targets(
    categories: Mapping[str, frozenset[str]], place_groups: Mapping[str, str]
) -> dict[str, Target]:
    """Stock-at-31-March targets of the placement categories present in one table."""
    return {
        label: Target("dfe_looked_after", group, note=note) if group else Target(note=note)
        for label, (group, note) in grouped_categories(
            categories, place_groups, "placement group"
        ).items()
    }


def reason_targets(
    categories: Mapping[str, frozenset[str]], exit_reasons: Mapping[str, str]
) -> dict[str, Target]:
    """Ceased-by-reason targets of the reason categories present in one table."""
    return {
        label: Target("dfe_ceased", LOOKED_AFTER, reason=group, note=note)
        if group
        else Target(note=note)
        for label, (group, note) in grouped_categories(
            categories, exit_reasons, "exit reason group"
        ).items()
    }


@dataclass(frozen=True)
class Mappings:
    """The code -> group tables the specifications group DfE categories with."""

    place_groups: Mapping[str, str] = field(default_factory=lambda: dict(PLACE_GROUP))
    exit_reasons: Mapping[str, str] = field(default_factory=lambda: dict(REC_REASON))


# ----------------------------------------------------------------------------- EES tables


@dataclass(frozen=True)
class EesSpec:
    """One EES table: how to recognise it and what its values are.

    Wide tables (``labels`` empty) hold one value column per figure: ``targets`` is keyed by
    column name. Long tables hold a value column and label columns: ``targets`` is keyed by
    the normalised labels joined with " | "; ``placements`` / ``reasons`` name the label
    prefix whose categories are grouped (see :func:`placement_targets`). A long table is
    recognised when one of its rows' first label is in ``signature``.
    """

    name: str
    required: frozenset[str]
    values: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    targets: Mapping[str, Target] = field(default_factory=dict)
    signature: frozenset[str] = frozenset()
    placements: str = ""
    reasons: str = ""
    period_shift: int = 0
    derived: bool = False
    release_column: str = ""
    recognised_by: tuple[frozenset[str], ...] = ()
    """Wide tables: sets of columns, any one of which, all present, identifies a file as
    this table even when a column carecast reads is missing (none: only the complete table
    is recognised; e.g. the duration columns of d5 are d4's too). Long tables are
    identified by their first label column and ``signature``."""

    def matches(self, columns: set[str], first_labels: set[str]) -> bool:
        """Whether a file with these columns (and first-label values) is this table."""
        return self.lacks(columns, first_labels) == []

    def lacks(self, columns: set[str], first_labels: set[str]) -> list[str] | None:
        """The columns carecast needs that a file identified as this table lacks (``[]``:
        none, the file is this table), or None when the file is not this table.

        A value column with alternative names (``number`` / ``children_count``) is listed
        as ``'number' or 'children_count'``."""
        if self.labels:
            if self.labels[0] not in columns or (
                self.signature and not self.signature & first_labels
            ):
                return None
        elif not self.required <= columns and not any(s <= columns for s in self.recognised_by):
            return None
        lacking = [repr(c) for c in sorted(self.required | set(self.labels)) if c not in columns]
        if self.labels and not any(c in columns for c in self.values):
            lacking.append(" or ".join(repr(c) for c in self.values))
        return lacking


def _ages(prefix: str, measure: str, total: str = "total") -> dict[str, Target]:
    out = {f"{prefix} | {total}": Target(measure, LOOKED_AFTER)}
    for label, band in EES_AGES.items():
        out[f"{prefix} | {label}"] = Target(measure, LOOKED_AFTER, band)
    return out


def _wide(*pairs: tuple[str, Target]) -> dict[str, Target]:
    return dict(pairs)


CLA_RATE_LABELS = {
    "children looked after at 31 march each year": "dfe_looked_after",
    "children looked after on 31 march each year": "dfe_looked_after",
    "children looked after at 31 march": "dfe_looked_after",
    "children starting to be looked after each year": "dfe_started",
    "children starting to be looked after during the year": "dfe_started",
    "children ceasing to be looked after each year": "dfe_ceased",
    "children ceasing to be looked after during the year": "dfe_ceased",
}
"""Labels of the CLA number-and-rate files and the national time series."""

EES_SPECS: tuple[EesSpec, ...] = (
    EesSpec(
        "CIN b1: children in need",
        frozenset({"At31_episodes"}),
        recognised_by=(frozenset({"Anypoint_episodes", "Started_episodes", "Ended_episodes"}),),
        targets=_wide(("At31_episodes", Target("dfe_in_need", "cin"))),
    ),
    EesSpec(
        "CIN c1: referrals and re-referrals",
        frozenset({"referral_count", "rereferral_count"}),
        recognised_by=(frozenset({"rereferral_percent"}),),
        targets=_wide(
            ("referral_count", Target("dfe_referrals")),
            ("rereferral_count", Target("dfe_rereferrals")),
        ),
    ),
    EesSpec(
        "CIN c4: section 47 enquiries and initial conferences",
        frozenset({"Section47", "ICPC"}),
        recognised_by=(frozenset({"Section47_child", "ICPC_child"}),),
        targets=_wide(("Section47", Target("dfe_s47")), ("ICPC", Target("dfe_icpc"))),
    ),
    EesSpec(
        "CIN d3: child protection plans starting",
        frozenset({"CPP_start"}),
        recognised_by=(frozenset({"CPP_subsequent"}),),
        targets=_wide(("CPP_start", Target("dfe_plans_started", "cpp"))),
    ),
    EesSpec(
        "CIN d5: child protection plans at 31 March",
        frozenset({"CPP_At31"}),
        targets=_wide(("CPP_At31", Target("dfe_on_plan", "cpp"))),
    ),
    EesSpec(
        "ONS mid-year population aged 0-17",
        frozenset({"age_group", "population_estimate"}),
        recognised_by=(frozenset({"age_group"}),),
        targets=_wide(("population_estimate", Target("population"))),
        period_shift=1,
    ),
    EesSpec(
        "CLA headline panel (derived: a stack of other publications)",
        frozenset({"cla_31_march", "started", "ceased", "source"}),
        recognised_by=(
            frozenset({"cla_31_march", "source"}),
            frozenset({"started", "ceased", "source"}),
            frozenset({"cla_31_march", "started", "ceased"}),
        ),
        targets=_wide(
            ("cla_31_march", Target("dfe_looked_after", LOOKED_AFTER)),
            ("started", Target("dfe_started", LOOKED_AFTER)),
            ("ceased", Target("dfe_ceased", LOOKED_AFTER)),
        ),
        derived=True,
        release_column="source",
    ),
    EesSpec(
        "CLA number and rate per 10,000 children",
        frozenset(),
        values=("children_count", "number"),
        labels=("population_type",),
        targets={k: Target(v, LOOKED_AFTER) for k, v in CLA_RATE_LABELS.items()},
        signature=frozenset(CLA_RATE_LABELS),
    ),
    EesSpec(
        "CLA number and rate per 10,000 children (older label column)",
        frozenset(),
        values=("number", "children_count"),
        labels=("population_count",),
        targets={k: Target(v, LOOKED_AFTER) for k, v in CLA_RATE_LABELS.items()},
        signature=frozenset(CLA_RATE_LABELS),
    ),
    EesSpec(
        "CLA ceased during the year by characteristic",
        frozenset({"cla_group", "characteristic"}),
        values=("number", "children_count"),
        labels=("cla_group", "characteristic"),
        targets=_ages("age on ceasing", "dfe_ceased"),
        signature=frozenset({"age on ceasing", "reason episode ceased"}),
        reasons="reason episode ceased",
    ),
    EesSpec(
        "CLA started during the year by characteristic",
        frozenset({"cla_group", "characteristic"}),
        values=("number", "children_count"),
        labels=("cla_group", "characteristic"),
        targets=_ages("age group", "dfe_started") | _ages("age on starting", "dfe_started"),
        signature=frozenset({"age on starting", "taken into care"}),
    ),
    EesSpec(
        "CLA at 31 March by characteristic",
        frozenset({"cla_group", "characteristic"}),
        values=("number", "children_count"),
        labels=("cla_group", "characteristic"),
        targets=_ages("age group", "dfe_looked_after")
        | {"placement | total": Target(note="repeats the table's total (age group | total)")},
        signature=frozenset({"placement", "place providers", "locality of placement"}),
        placements="placement",
    ),
    EesSpec(
        "CLA at 31 March: placement stability",
        frozenset({"cla_group", "characteristic"}),
        values=("number", "children_count"),
        labels=("cla_group", "characteristic"),
        targets={
            "children looked after at 31 march | total children": Target(
                "dfe_looked_after", LOOKED_AFTER
            )
        },
        signature=frozenset({"children looked after at 31 march"}),
    ),
    EesSpec(
        "CLA on 31 March: placement stability",
        frozenset({"cla_group", "placement_stability"}),
        values=("children_count", "number"),
        labels=("cla_group", "placement_stability"),
        targets={"cla on 31 march | total children": Target("dfe_looked_after", LOOKED_AFTER)},
        signature=frozenset({"cla on 31 march"}),
    ),
)
"""Every EES table carecast reads, most specific first; a file takes the first match."""


def ees_targets(spec: EesSpec, labels: set[str], mappings: Mappings) -> dict[str, Target]:
    """The targets of ``spec`` for a file whose long-table labels are ``labels``: the fixed
    ones plus its placement or reason categories, grouped as the module notes say.

    A category of a grouped breakdown that carecast does not know (a new DfE category)
    could belong to any group, so then no group of that breakdown is used: an unknown
    category never silently leaves a group short."""
    targets = dict(spec.targets)
    breakdowns = (
        (spec.placements, EES_PLACEMENTS, placement_targets, mappings.place_groups),
        (spec.reasons, EES_REASONS, reason_targets, mappings.exit_reasons),
    )
    for prefix, known, grouping, code_group in breakdowns:
        present = {
            label: label.split(" | ", 1)[1]
            for label in labels
            if prefix and label.startswith(f"{prefix} | ") and label not in targets
        }
        present = {label: name for label, name in present.items() if name != "total"}
        unknown = sorted(label for label, name in present.items() if name not in known)
        if unknown:
            why = f"a category carecast does not know ({unknown[0]!r}) makes every group unsure"
            targets |= {label: Target(note=why) for label in present}
        elif present:
            targets |= grouping({label: known[name] for label, name in present.items()}, code_group)
    return targets


# ----------------------------------------------------------------------------- SFR tables


@dataclass(frozen=True)
class SfrSpec:
    """One kind of SFR underlying file: recognised by its total column (the pattern also
    matches the column's year suffix, when it has one), values by column-name patterns
    (matched whole, ignoring case and reading "-" as "_")."""

    name: str
    total: re.Pattern[str]
    targets: tuple[tuple[re.Pattern[str], Target], ...]
    placements: bool = False
    reasons: bool = False
    total_example: str = ""
    """A name of the total column (``YYYY`` the year), for messages."""


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _sfr_ages(prefixes: dict[str, str], measure: str) -> tuple[tuple[re.Pattern[str], Target], ...]:
    return tuple((_re(p), Target(measure, LOOKED_AFTER, band)) for p, band in prefixes.items())


SFR_SPECS: tuple[SfrSpec, ...] = (
    SfrSpec(
        "SFR children looked after at 31 March",
        _re(r"MarTotal_\d{4}|CLA_Mar\d{4}"),
        (
            (_re(r"MarTotal_\d{4}|CLA_Mar\d{4}"), Target("dfe_looked_after", LOOKED_AFTER)),
            *_sfr_ages(
                {
                    "CLA_U1": "under_1",
                    "CLA_1to4": "1_to_4",
                    "CLA_5to9": "5_to_9",
                    "CLA_10to15": "10_to_15",
                    "CLA_16over": "16_to_17",
                },
                "dfe_looked_after",
            ),
        ),
        placements=True,
        total_example="CLA_MarYYYY",
    ),
    SfrSpec(
        "SFR children who started to be looked after",
        _re(r"StartTotal_\d{4}|CLA_started\d{4}"),
        (
            (_re(r"StartTotal_\d{4}|CLA_started\d{4}"), Target("dfe_started", LOOKED_AFTER)),
            *_sfr_ages(
                {
                    "SCLA_U1": "under_1",
                    "SCLA_1to4": "1_to_4",
                    "SCLA_5to9": "5_to_9",
                    "SCLA_10to15": "10_to_15",
                    "SCLA_16over": "16_to_17",
                },
                "dfe_started",
            ),
        ),
        total_example="CLA_startedYYYY",
    ),
    SfrSpec(
        "SFR children who ceased to be looked after",
        _re(r"CeasedTotal_\d{4}|CLA_cease(\d{4})?"),
        (
            (_re(r"CeasedTotal_\d{4}|CLA_cease(\d{4})?"), Target("dfe_ceased", LOOKED_AFTER)),
            *_sfr_ages(
                {
                    "CLA_cea1|CEA_U1": "under_1",
                    "CLA_cea14|CEA_1to4": "1_to_4",
                    "CLA_cea59|CEA_5to9": "5_to_9",
                    "CLA_cea1015|CEA_10to15": "10_to_15",
                    "CLA_cea16|CLA_cea17|CLA_cea18|CEA_16|CEA_17|CEA_18over": "16_to_17",
                },
                "dfe_ceased",
            ),
        ),
        reasons=True,
        total_example="CLA_ceaseYYYY",
    ),
)
"""Every kind of SFR underlying file carecast reads."""

SFR_PLACE_COLUMN = _re(r"MarPlace_(\w+?)_\d{4}")


def sfr_targets(spec: SfrSpec, columns: list[str], mappings: Mappings) -> dict[str, Target]:
    """Column -> target for one SFR file's columns (columns no pattern knows are absent)."""

    def key(column: str) -> str:
        return column.replace("-", "_")

    def category(column: str) -> str:
        """The column's name without the 2010 files' year suffix (``CeasedDied_2010``)."""
        return re.sub(r"_\d{4}$", "", key(column)).casefold()

    out: dict[str, Target] = {}
    for column in columns:
        for pattern, target in spec.targets:
            if pattern.fullmatch(key(column)):
                out[column] = target
                break
    if spec.placements:
        found: dict[str, frozenset[str]] = {}
        known = {k.casefold(): v for k, v in SFR_PLACEMENTS.items()}
        for column in columns:
            match = SFR_PLACE_COLUMN.fullmatch(key(column))
            if match:
                code = match.group(1).upper()
                found[column] = SFR_2010_PLACE_ALIASES.get(code, frozenset({code}))
            elif category(column) in known:
                found[column] = known[category(column)]
        out |= placement_targets(found, mappings.place_groups)
    if spec.reasons:
        known = {k.casefold(): v for k, v in SFR_REASONS.items()}
        found = {c: known[category(c)] for c in columns if category(c) in known}
        out |= reason_targets(found, mappings.exit_reasons)
    return out
