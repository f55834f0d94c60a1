"""Scenario files: what-if changes to a fitted model, validated, with their time profile.

A scenario file (e.g. ``config/scenarios/examples.yaml``) lists named scenarios, each a
list of changes to the fitted authority's system from a start date. The forecast runs every
scenario on the same posterior draws as the ``baseline`` (the run without changes; the name
is reserved), so the difference between a scenario and the baseline is the effect of its
changes alone.

Flows
-----
Changes to children's movements name a flow, ``"<source> -> <destination>"`` (spaces
optional), in the fitted model's terms:

- states: the model's placement groups (``foster_kin``, ``foster_other``, ``residential``,
  ``supported``, ``with_parents``, ``adoption``, ``other`` by default, or the merged names
  the structure config gives, e.g. ``foster``), and ``cin`` (an open child-in-need case)
  and ``cpp`` (a child protection plan) when the fit models the CIN funnel;
- ``care``: every care state (as a source or a destination);
- ``exit:<reason>``: leaving care by ``return_home``, ``adoption``, ``sgo_cao``,
  ``independence`` or ``other`` (from care states only); ``exit``: every exit reason;
- ``closed``: a cin or cpp case closing (from cin or cpp only);
- ``outside``, as a source only: children arriving. ``outside -> care`` is the care entry
  stream (every entry to care, wherever placed); ``outside -> referral`` the referral
  stream (every new cin case or plan, with the CIN funnel); ``outside -> <state>`` only the
  entries into that state (e.g. ``outside -> residential``; ``outside -> cin`` is the
  referrals that open a cin case, not those that go straight onto a plan).

Children in care do not move to cin or cpp directly (leaving care is an exit by reason),
and turning 18 or moving up an age band (``age``) is not a flow a scenario can change.
A flow between groups stands for every pair of its source and destination states; a pair
whose source and destination are the same state (staying put) is not part of it, so
``care -> care`` is every move between placements.

Changes
-------
Every change has ``start`` (a date: the change applies from the month containing it) and
``ramp_months`` (default 0). With ``ramp_months: 0`` the full change applies from that
month; with ``ramp_months: R`` it phases in linearly: a fraction 1/R of the change in the
first month, 2/R in the second, ..., all of it from the R-th month on (see :func:`ramp`).
Several changes combine: multipliers multiply, and the others apply in the order listed.

``multiply_rate`` (``flow``, ``factor`` > 0 and at most :data:`MAX_FACTOR`, 10)
    Between states: multiplies the monthly odds of taking the flow against staying put
    (the model's log-odds rise by log(factor)). For monthly rates of a few percent this is
    close to multiplying the number of children who take the flow by ``factor``.
    From ``outside``: multiplies the mean entries per month of the stream
    (``outside -> care``, ``outside -> referral``), or only the entries into one state
    (``outside -> residential``: the stream's other entries are unchanged, so its mix
    shifts).

``redirect`` (``flow``, ``to``, ``share`` in (0, 1])
    Of the children who would take the flow in a month, ``share`` take ``to`` instead:
    for entries, a share of the entries into the flow's states are placed in ``to``
    (which must belong to the same stream); for moves and exits, a share of the departures
    go to ``to`` (one state, one ``exit:<reason>`` or ``closed``, valid from every source
    of the flow and not one of them).

``add_children`` (``flow``, ``per_month`` between -1,000 and 1,000)
    ``per_month`` extra children a month take the flow (fractional values are expected
    values); negative: that many fewer. The simulator takes them from the children
    available in the source (and never removes more than would have moved). Between states
    the flow names one source state and one destination; from ``outside`` they are extra
    entries, into one state or spread over a stream as its entries are. Against a fit
    (when the forecast runs), ``|per_month|`` may be at most :data:`ADD_MULTIPLE` (10)
    times the children a month the fit expects along the flow, or :data:`ADD_FLOOR` (10)
    children a month, whichever is larger (see :func:`addition_limit`).

``set_capacity`` (``children`` > 0, at most :data:`MAX_CAPACITY`, 100,000),
``set_workforce`` (``social_workers`` > 0, at most :data:`MAX_WORKFORCE`, 50,000)
    New placement capacity (children) or children's social workers (full-time
    equivalent): the values the capacity and workforce feedback terms use, ramping from
    the value in force before. They change nothing in a fit without those terms.

``multiply_unit_cost`` (``group``: a care state or ``care``, ``factor`` > 0 and at most
:data:`MAX_FACTOR`)
    Multiplies the weekly unit cost of a placement group (``care``: of every group).

``set_inflation`` (``annual`` > -0.5 and < 1)
    The annual rate at which unit costs rise from ``start`` on, ramping from the rate in
    force before (the costs config's, per draw).

Bounds
------
Every value is bounded, so that a typo (``factor: 1000000000``) is refused with a message
rather than simulated, and so that the simulator's counts stay far inside their integer
types (``model.forecast.simulate.SAFE_MAX_CHILDREN``):

- multipliers (``multiply_rate``, ``multiply_unit_cost``): above 0 and at most
  :data:`MAX_FACTOR` = 10. Ten times a flow's odds or an authority's entries is already
  beyond any change a service has been shown to make; a larger effect is almost surely a
  mistake in the file;
- ``redirect``: a share in (0, 1];
- ``add_children``: at most 1,000 children a month either way in the file
  (:data:`MAX_ADD_PER_MONTH`: about ten times the largest English authority's monthly
  entries to care), and, against the fit, at most ten times the flow's expected children
  a month or 10 a month, whichever is larger (:func:`addition_limit`; the floor lets a
  programme start a flow the fit has never, or rarely, seen);
- ``set_capacity`` up to :data:`MAX_CAPACITY` = 100,000 children (more than every child
  looked after in England), ``set_workforce`` up to :data:`MAX_WORKFORCE` = 50,000 social
  workers (more than England's children's social workers);
- ``set_inflation``: an annual rate above -50% and below 100%;
- ``start``: inside the forecast window, from the first month forecast to the last
  (:func:`check_window`, when the forecast runs: the window depends on the fit and the
  horizon). A ramp may end after the horizon.

Errors
------
:func:`load_scenarios` raises :class:`ScenarioError` with one line per problem, each naming
the file, the scenario (position and name), the change (position and type), the field, and
what was expected, e.g. ``config/s.yaml: scenario 2 (reunification_drive), change 1
(multiply_rate): flow "care -> exit:home": unknown destination "exit:home"; expected ...``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from model.codes import OUTSIDE, UPSTREAM_STATES
from model.config.errors import describe_error as _describe_error
from model.config.errors import show_value as _show
from model.config.fit import StructureConfig
from model.fit.network import CARE, CLOSED, KIND_CLOSED, KIND_EXIT, REFERRAL, Network

BASELINE = "baseline"
"""The reserved name of the forecast without changes."""

EXIT = "exit"
AGE = "age"
RESERVED_NAMES = frozenset({CARE, EXIT, CLOSED, REFERRAL, AGE, OUTSIDE, "stay", *UPSTREAM_STATES})
"""Words with a meaning in flows: a placement group may not be called one of them."""


MAX_FACTOR = 10.0
"""The largest ``factor`` of ``multiply_rate`` and ``multiply_unit_cost`` (see Bounds)."""
MAX_ADD_PER_MONTH = 1000.0
"""The largest ``|per_month|`` of ``add_children`` in any file (children a month)."""
ADD_MULTIPLE = 10.0
"""Against a fit, ``|per_month|`` is at most this many times the flow's expected children a
month (or :data:`ADD_FLOOR`, whichever is larger)."""
ADD_FLOOR = 10.0
"""Children a month an addition may always have, however small the flow in the fit."""
MAX_CAPACITY = 100_000.0
"""The largest ``set_capacity`` (children)."""
MAX_WORKFORCE = 50_000.0
"""The largest ``set_workforce`` (full-time equivalent social workers)."""


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the file, scenario, change and field."""


# --- the model's names ------------------------------------------------------------------------


def flow_network(structure: StructureConfig | Network, cin_funnel: bool = True) -> Network:
    """The network whose names a scenario may use: a fit's, or that of a model of
    ``structure`` (``cin_funnel``: whether the fit has cin and cpp; a fit without CIN data
    has none even when ``structure.cin_funnel`` is true). Its care states are the placement
    groups after the structure's merging, and with the CIN funnel its states include the
    upstream states ``cin`` and ``cpp``. ``ValueError`` when a placement group has a name
    flows use."""
    net = structure if isinstance(structure, Network) else Network.build(structure, cin_funnel)
    reserved = RESERVED_NAMES | set(net.of_kind(KIND_CLOSED))
    clash = sorted(set(net.care_states) & reserved)
    if clash:
        raise ValueError(
            f"structure.placement_groups names a group {', '.join(clash)}, a word flows "
            f"use ({', '.join(sorted(reserved))}); rename the group"
        )
    return net


_DEFAULT_NAMES = flow_network(StructureConfig(), cin_funnel=True)


def _names(info: ValidationInfo) -> Network:
    """The network validation checks against: the loader's, or the default structure's
    (with the CIN funnel) when a change is built directly in Python."""
    context = info.context or {}
    return context.get("names", _DEFAULT_NAMES)


def _ends(names: Network) -> tuple[str, ...]:
    """The destinations that end a case (``closed``) some state of the network can take."""
    can = names.pair_allowed.any(axis=0)
    return tuple(
        d for i, d in enumerate(names.destinations) if names.kind[i] == KIND_CLOSED and can[i]
    )


# --- flows -----------------------------------------------------------------------------------


class FlowError(ValueError):
    """A flow's text cannot be resolved; the message says why and what was expected."""


class Flow(BaseModel):
    """A resolved flow: every source state and destination it stands for.

    ``source`` is state names, or ``("outside",)`` for entries; ``destination`` is states,
    ``exit:<reason>`` or ``closed``, groups expanded (``care`` -> every care state, ``exit``
    -> every exit reason; for entries, ``referral`` -> cin and cpp). ``streams`` names the
    entry stream(s) concerned (``care``, ``referral``) for entries, and is empty otherwise.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    text: str = Field(description='The flow as written, normalised: "cpp -> care".')
    source: tuple[str, ...]
    destination: tuple[str, ...]
    streams: tuple[str, ...] = ()

    @property
    def is_entry(self) -> bool:
        """Whether the flow is entries from ``outside``."""
        return self.source == (OUTSIDE,)

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Every (source, destination) the flow stands for, staying put left out."""
        return tuple((s, d) for s in self.source for d in self.destination if s != d)


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names)


def _no_funnel(token: str) -> FlowError:
    return FlowError(
        f'"{token}" needs the CIN funnel, and this fit has no CIN funnel (it models care '
        "only: no CIN census data, or structure.cin_funnel is false)"
    )


def _suggest(token: str, candidates: Sequence[str]) -> str:
    """`` (did you mean "x"?)`` for the closest candidate, or nothing."""
    # A candidate that contains the token ("home" in "exit:return_home") beats spelling.
    containing = [c for c in candidates if token.removeprefix(f"{EXIT}:") in c]
    close = containing[:1] if len(containing) == 1 else []
    close = close or difflib.get_close_matches(token, list(candidates), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _move_destinations(names: Network) -> str:
    """What a destination of a move may be, for messages."""
    parts = [
        f"a state ({_listed(names.states)})", CARE, EXIT,
        f"exit:<reason> ({_listed(names.reasons)})", *_ends(names),
    ]  # fmt: skip
    return f"{', '.join(parts[:-1])} or {parts[-1]}"


def _source(token: str, names: Network) -> tuple[str, ...]:
    """The states a source token stands for (or ``("outside",)``)."""
    if token == OUTSIDE:
        return (OUTSIDE,)
    if token == CARE:
        return names.care_states
    if token in names.states:
        return (token,)
    if token in UPSTREAM_STATES:
        raise _no_funnel(token)
    if token == REFERRAL:
        raise FlowError('referral is an entry stream: write "outside -> referral"')
    if token == AGE:
        raise FlowError("age (moving up an age band, turning 18) is internal to the model")
    if token in (EXIT, CLOSED) or token in names.exits or token in _ends(names):
        raise FlowError(f'"{token}" is a destination; a flow starts from a state, care or outside')
    candidates = [*names.states, CARE, OUTSIDE]
    raise FlowError(
        f'unknown source "{token}"{_suggest(token, candidates)}; expected a state '
        f"({_listed(names.states)}), care or outside"
    )


def _destination(token: str, names: Network) -> tuple[str, ...]:
    """The destinations a destination token of a move (not an entry) stands for."""
    if token == CARE:
        return names.care_states
    if token == EXIT:
        return names.exits
    if token in names.states or token in names.exits or token in _ends(names):
        return (token,)
    if token in (*UPSTREAM_STATES, REFERRAL, CLOSED):
        raise _no_funnel(token)
    if token == AGE:
        raise FlowError("age (moving up an age band, turning 18) is internal to the model")
    if token == OUTSIDE:
        raise FlowError(
            "outside is a source only: children leave care by exit:<reason> and cin/cpp "
            "cases end with closed"
        )
    candidates = [*names.states, CARE, EXIT, *names.exits, *names.of_kind(KIND_CLOSED)]
    raise FlowError(
        f'unknown destination "{token}"{_suggest(token, candidates)}; expected '
        f"{_move_destinations(names)}"
    )


def _entry(token: str, names: Network) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(destination states, streams) of entries from outside to ``token``: a stream's
    states, or one state and the stream that enters it."""
    if token in names.streams:
        return names.stream_states(token), (token,)
    if token in names.states:
        return (token,), (names.stream_of(token),)
    if token in UPSTREAM_STATES or token == REFERRAL:
        raise _no_funnel(token)
    states = f"a state ({_listed(names.states)})"
    referral = REFERRAL in names.streams
    expected = f"{states}, care or referral" if referral else f"{states} or care"
    if token in (EXIT, CLOSED) or token in names.exits or token in _ends(names):
        raise FlowError(f'entries from outside cannot go to "{token}"; expected {expected}')
    candidates = [*names.states, CARE, *([REFERRAL] if referral else [])]
    raise FlowError(
        f'unknown destination "{token}"{_suggest(token, candidates)}; expected for entries '
        f"from outside {expected}"
    )


def _check_pairs(source: tuple[str, ...], destination: tuple[str, ...], names: Network) -> None:
    """Refuse staying put, and moves the network has for none of the pairs."""
    pairs = [(s, d) for s in source for d in destination if s != d]
    if not pairs:
        raise FlowError("the source and the destination are the same state: that is staying put")
    allowed = names.pair_allowed
    if not any(allowed[names.states.index(s), names.destinations.index(d)] for s, d in pairs):
        raise FlowError(_no_such_flow(source[0], destination[0], names))


def _no_such_flow(source: str, destination: str, names: Network) -> str:
    """Why the network has no flow from ``source`` to ``destination``, for messages."""
    kind = names.kind[names.destinations.index(destination)]
    if kind == KIND_CLOSED:
        return f"{destination} ends a cin or cpp case; children leave care by exit:<reason>"
    if kind == KIND_EXIT:
        return "exits (exit:<reason>) leave care states; a cin or cpp case ends closed"
    if source in names.care_states and destination in names.upstream:
        return (
            "children in care do not move to cin or cpp directly in this model; leaving care "
            "is an exit (exit:<reason>)"
        )
    return f"the model has no flow from {source} to {destination}"


def parse_flow(text: str, names: Network) -> Flow:
    """Resolve ``"<source> -> <destination>"`` against the model's names; raise
    :class:`FlowError` saying what is wrong and what was expected."""
    parts = text.split("->")
    if len(parts) != 2 or not all(part.strip() for part in parts):
        raise FlowError('expected "<source> -> <destination>", e.g. "cpp -> care"')
    source_token, destination_token = (part.strip() for part in parts)
    source = _source(source_token, names)
    canonical = f"{source_token} -> {destination_token}"
    if source == (OUTSIDE,):
        destination, streams = _entry(destination_token, names)
        return Flow(text=canonical, source=source, destination=destination, streams=streams)
    destination = _destination(destination_token, names)
    _check_pairs(source, destination, names)
    return Flow(text=canonical, source=source, destination=destination)


def resolve_flow(text: str, structure: StructureConfig | Network, cin_funnel: bool = True) -> Flow:
    """:func:`parse_flow` with the names of a fit's network or of a model of ``structure``
    (see :func:`flow_network`)."""
    return parse_flow(text, flow_network(structure, cin_funnel))


def _flow(value: Any, info: ValidationInfo) -> Any:
    """A flow's text -> :class:`Flow` (a Flow passes through, as when copying a change)."""
    if isinstance(value, Flow):
        return value
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        value = value["text"]  # a dumped Flow (model_dump) validates again from its text
    if not isinstance(value, str):
        raise PydanticCustomError(
            "scenario_flow", 'expected text "<source> -> <destination>", e.g. "cpp -> care"'
        )
    try:
        return parse_flow(value, _names(info))
    except FlowError as error:
        raise PydanticCustomError("scenario_flow", "{reason}", {"reason": str(error)}) from None


FlowField = Annotated[
    Flow,
    BeforeValidator(_flow),
    Field(description='A flow "<source> -> <destination>", e.g. "cpp -> care" (see the module).'),
]


# --- changes ---------------------------------------------------------------------------------

Number = Annotated[float, Field(allow_inf_nan=False)]


class ChangeBase(BaseModel):
    """What every change has: when it starts and how long it takes to phase in."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    start: date = Field(
        strict=False,  # YAML gives a date; quoted ISO text is fine too
        description="The date the change starts: it applies from the month containing it "
        "(ISO, e.g. 2026-04-01).",
    )
    ramp_months: int = Field(
        default=0,
        ge=0,
        le=600,
        description="The months over which the change phases in linearly (0: all of it "
        "from the start).",
    )


class MultiplyRate(ChangeBase):
    """Multiply the odds of a transition, or the mean of an entry stream (see the module)."""

    type: Literal["multiply_rate"]
    flow: FlowField
    factor: Number = Field(
        gt=0,
        le=MAX_FACTOR,
        description="A multiplier > 0 and at most 10 of the flow's odds or entries (0.8: a "
        "fifth fewer).",
    )


class Redirect(ChangeBase):
    """A share of the children taking a flow take another destination instead."""

    type: Literal["redirect"]
    flow: FlowField
    to: str = Field(
        description="Where the redirected children go instead: one state, exit:<reason> or closed."
    )
    share: Number = Field(gt=0, le=1, description="The share redirected, in (0, 1].")

    @field_validator("to")
    @classmethod
    def _valid_target(cls, to: str, info: ValidationInfo) -> str:
        flow: Flow | None = info.data.get("flow")  # absent when the flow itself was invalid
        if flow is None:
            return to
        try:
            _check_redirect(flow, to, _names(info))
        except FlowError as error:
            raise PydanticCustomError("scenario_to", "{reason}", {"reason": str(error)}) from None
        return to


def _check_redirect(flow: Flow, to: str, names: Network) -> None:
    """``to`` is one destination the flow's sources can take, other than the flow's own."""
    if flow.is_entry:
        stream_states = names.stream_states(flow.streams[0])
        if to not in stream_states:
            raise FlowError(
                f"entries of the {flow.streams[0]} stream can be redirected to "
                f"{_listed(stream_states)}"
            )
    else:
        if to in (CARE, EXIT, REFERRAL):
            raise FlowError("name one destination (a state, exit:<reason> or closed), not a group")
        target = _destination(to, names)
        _check_pairs(flow.source, target, names)
        if to in flow.source:
            raise FlowError(f"{to} is a source of the flow: redirecting there is staying put")
    if to in flow.destination:
        raise FlowError(f"{to} is already a destination of the flow {flow.text}")


class AddChildren(ChangeBase):
    """Extra (or, negative, fewer) children a month take a flow."""

    type: Literal["add_children"]
    flow: FlowField
    per_month: Number = Field(
        ge=-MAX_ADD_PER_MONTH,
        le=MAX_ADD_PER_MONTH,
        description="The extra children a month, from -1000 to 1000 (an expected value; "
        "negative: fewer, bounded by those available; see the module for the bound "
        "against the fit).",
    )

    @field_validator("flow")
    @classmethod
    def _one_pair(cls, flow: Flow) -> Flow:
        # Extra moves need a definite origin and destination; entries may follow a stream.
        if not flow.is_entry and (len(flow.source) > 1 or len(flow.destination) > 1):
            raise PydanticCustomError(
                "scenario_flow",
                "add_children moves children from one state to one destination (a state, "
                "exit:<reason> or closed); name them rather than a group",
            )
        return flow


class SetCapacity(ChangeBase):
    """New placement capacity for the capacity feedback term."""

    type: Literal["set_capacity"]
    children: Number = Field(
        gt=0,
        le=MAX_CAPACITY,
        description="The placement capacity (children), > 0 and at most 100,000.",
    )


class SetWorkforce(ChangeBase):
    """New social worker numbers for the workforce feedback term."""

    type: Literal["set_workforce"]
    social_workers: Number = Field(
        gt=0,
        le=MAX_WORKFORCE,
        description="The children's social workers (full-time equivalent), > 0 and at most 50,000.",
    )


class MultiplyUnitCost(ChangeBase):
    """Multiply the weekly unit cost of a placement group."""

    type: Literal["multiply_unit_cost"]
    group: str = Field(description="A care state of the model, or care (every one).")
    factor: Number = Field(
        gt=0, le=MAX_FACTOR, description="A multiplier > 0 and at most 10 of the weekly unit cost."
    )

    @field_validator("group")
    @classmethod
    def _known_group(cls, group: str, info: ValidationInfo) -> str:
        care = _names(info).care_states
        if group != CARE and group not in care:
            raise PydanticCustomError(
                "scenario_group",
                "unknown placement group{hint}; expected one of {care}, or care (every one)",
                {"hint": _suggest(group, care), "care": _listed(care)},
            )
        return group


class SetInflation(ChangeBase):
    """A new annual inflation rate of unit costs."""

    type: Literal["set_inflation"]
    annual: Number = Field(
        gt=-0.5,
        lt=1,
        description="The annual inflation rate, a fraction (0.05: 5% a year), in (-0.5, 1).",
    )


Change = Annotated[
    MultiplyRate
    | Redirect
    | AddChildren
    | SetCapacity
    | SetWorkforce
    | MultiplyUnitCost
    | SetInflation,
    Field(discriminator="type"),
]
"""One change of a scenario, told apart by its ``type``."""

CHANGE_TYPES: dict[str, type[ChangeBase]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (
        MultiplyRate, Redirect, AddChildren, SetCapacity, SetWorkforce, MultiplyUnitCost,
        SetInflation,
    )
}  # fmt: skip


class Scenario(BaseModel):
    """A named set of changes, compared with the baseline run."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(description="A lowercase identifier, unique in the file, not baseline.")
    description: str = Field(default="", description="What it is and the assumption made.")
    changes: list[Change] = Field(min_length=1, description="A list of at least one change.")

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if name == BASELINE:
            raise PydanticCustomError(
                "scenario_name", "reserved for the run without changes; choose another name"
            )
        if not (name[:1].isascii() and name[:1].islower() and len(name) <= 40) or not all(
            c.isascii() and (c.islower() or c.isdigit() or c == "_") for c in name
        ):
            raise PydanticCustomError(
                "scenario_name",
                "expected a lowercase identifier of up to 40 characters: a-z, digits and _, "
                "starting with a letter (e.g. edge_of_care)",
            )
        return name


# --- loading ---------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a date-like scalar that is not a real date (such
    as 2026-13-01) stays text: PyYAML would raise a bare ValueError without a line, and as
    text it reaches validation, which names the scenario, change and field."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def load_scenarios(
    path: Path, structure: StructureConfig | Network, cin_funnel: bool = True
) -> list[Scenario]:
    """Read and validate a scenario file against a fitted model's names.

    ``structure``: the fit's network (``model.fit.network``), or its structure config (its
    placement groups name the care states) with ``cin_funnel``, whether the fit models cin
    and cpp. Raises :class:`ScenarioError` with one line per problem (file, scenario,
    change, field, what was expected).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read the scenario file: {error.strerror}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ScenarioError(f"{path}: not valid YAML{where}: {problem}") from None
    return validate_scenarios(data, structure, cin_funnel, source=str(path))


def validate_scenarios(
    data: Any,
    structure: StructureConfig | Network,
    cin_funnel: bool = True,
    source: str = "scenarios",
) -> list[Scenario]:
    """Validate already-parsed scenario data (see :func:`load_scenarios`); ``source`` names
    it in messages."""
    try:
        names = flow_network(structure, cin_funnel)
    except ValueError as error:
        raise ScenarioError(f"{source}: {error}") from None
    raw = _scenario_list(data, source)
    problems: list[str] = []
    scenarios: list[Scenario] = []
    for position, item in enumerate(raw, start=1):
        label = _scenario_label(position, item)
        try:
            scenarios.append(Scenario.model_validate(item, context={"names": names}))
        except ValidationError as error:
            problems += [
                f"{label}{_describe(detail, item)}" for detail in error.errors(include_url=False)
            ]
    problems += _duplicates(raw)
    if problems:
        raise ScenarioError("\n".join(f"{source}: {problem}" for problem in problems))
    return scenarios


def _scenario_list(data: Any, source: str) -> list[Any]:
    """The file's ``scenarios`` list, or a :class:`ScenarioError` saying what the file
    should look like."""
    expected = "expected a mapping with a `scenarios` list, e.g. 'scenarios: [{name: ...}]'"
    if data is None:
        raise ScenarioError(f"{source}: the file is empty; {expected}")
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: got {_show(data)} at the top level; {expected}")
    extra = [str(key) for key in data if key != "scenarios"]
    if extra:
        raise ScenarioError(
            f"{source}: unknown top-level key {', '.join(extra)}; the only key is `scenarios`"
        )
    if "scenarios" not in data:
        raise ScenarioError(f"{source}: no `scenarios`; {expected}")
    scenarios = data["scenarios"]
    if not isinstance(scenarios, list) or not scenarios:
        raise ScenarioError(
            f"{source}: scenarios: got {_show(scenarios)}; expected a list of at least one scenario"
        )
    return scenarios


def _scenario_label(position: int, item: Any) -> str:
    """``scenario 2 (reunification_drive)``: position from 1, and the name if it has one."""
    name = item.get("name") if isinstance(item, dict) else None
    return f"scenario {position}" + (f" ({name})" if isinstance(name, str) and name else "")


def _duplicates(raw: list[Any]) -> list[str]:
    """One problem per name given to more than one scenario."""
    positions: dict[str, list[int]] = {}
    for position, item in enumerate(raw, start=1):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str):
            positions.setdefault(name, []).append(position)
    return [
        f'scenarios {", ".join(map(str, where))}: name "{name}" is used {len(where)} times; '
        "each scenario needs its own name"
        for name, where in positions.items()
        if len(where) > 1
    ]


def _describe(error: ErrorDetails, item: Any) -> str:
    """The rest of a problem's line after the scenario's label: the change (if any), the
    field, and what was given and expected."""
    loc = tuple(error["loc"])
    model: type[BaseModel] = Scenario
    where = ""
    if loc[:1] == ("changes",) and len(loc) >= 2 and isinstance(loc[1], int):
        raw = item["changes"][loc[1]]
        kind = raw.get("type") if isinstance(raw, dict) else None
        where = f", change {loc[1] + 1}" + (f" ({kind})" if isinstance(kind, str) else "")
        loc = loc[2:]
        if loc and loc[0] == kind:  # pydantic puts the union's tag in the location
            loc = loc[1:]
        model = CHANGE_TYPES.get(kind, ChangeBase) if isinstance(kind, str) else ChangeBase
    return f"{where}: {_field_problem(error, loc, model)}"


def _field_problem(error: ErrorDetails, loc: tuple[int | str, ...], model: type[BaseModel]) -> str:
    """``field: got ...; allowed: ...`` for one pydantic error at ``loc`` within ``model``."""
    kind = error["type"]
    key = ".".join(str(part) for part in loc)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        given = _show(error["input"].get("type")) if kind == "union_tag_invalid" else "nothing"
        return f"type: got {given}; allowed: {_listed(list(CHANGE_TYPES))}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        what = "a scenario: a mapping with name, description and changes"
        if model is not Scenario:
            what = "a change: a mapping of keys such as 'type: multiply_rate'"
        return f"{key + ': ' if key else ''}got {_show(error['input'])}; expected {what}"
    if kind == "too_short":
        return f"{key}: got an empty list; expected at least one change"
    if kind == "extra_forbidden":
        names = [name for name in model.model_fields if name != "type"]
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return f"{key}: unknown key; {hint}(allowed: {_listed(names)})"
    if kind == "missing":
        field = model.model_fields.get(str(loc[-1]))
        if field is None or not field.description:
            return f"{key}: missing"
        expected = field.description[0].lower() + field.description[1:].rstrip(".")
        return f"{key}: missing; expected {expected}"
    if kind.startswith("scenario_"):
        given = error["input"].text if isinstance(error["input"], Flow) else error["input"]
        if isinstance(given, str):
            return f'{key} "{given}": {error["msg"]}'
        return f"{key}: got {_show(given)}; {error['msg']}"
    # Type and bound errors: the config's own wording ("got ...; allowed: ...").
    readable = dict(error)
    readable["loc"] = loc
    readable["msg"] = error["msg"].removeprefix("Input should be ")
    return _describe_error(readable)  # type: ignore[arg-type]


# --- bounds that need the fit --------------------------------------------------------------


def labelled_changes(scenarios: Sequence[Scenario]) -> list[tuple[str, ChangeBase]]:
    """Every change with its label in messages, ``scenario 2 (name), change 1 (type)``
    (positions from 1, in the order given: pass the file's whole list)."""
    return [
        (f"scenario {c} ({scenario.name}), change {k} ({change.type})", change)  # type: ignore[attr-defined]
        for c, scenario in enumerate(scenarios, start=1)
        for k, change in enumerate(scenario.changes, start=1)
    ]


def check_window(
    scenarios: Sequence[Scenario], first: date, last: date, source: str, context: str = ""
) -> None:
    """Refuse changes starting outside the forecast window, ``first`` (the first day of the
    first month forecast) to ``last`` (the last day forecast), with one line per change
    naming ``source`` (the file), the scenario, the change and ``start``; ``context`` says
    where the window comes from. A start before the window would change months already
    fitted (or be a typo), one after it would change nothing forecast: both are mistakes
    that would otherwise pass silently. A ramp may end after the window."""
    problems = [
        f"{source}: {label}: start: got {change.start.isoformat()}; expected a date in the "
        f"forecast window, {first.isoformat()} to {last.isoformat()}{context}"
        for label, change in labelled_changes(scenarios)
        if not first <= change.start <= last
    ]
    if problems:
        raise ScenarioError("\n".join(problems))


def addition_limit(expected_per_month: float) -> float:
    """The largest ``|per_month|`` of an ``add_children`` on a flow along which the fit
    expects ``expected_per_month`` children a month: :data:`ADD_MULTIPLE` times that, or
    :data:`ADD_FLOOR` if larger (a flow the fit has as 0 may still get a small programme),
    and never above :data:`MAX_ADD_PER_MONTH`."""
    return min(max(ADD_MULTIPLE * expected_per_month, ADD_FLOOR), MAX_ADD_PER_MONTH)


def check_additions(
    scenarios: Sequence[Scenario],
    expected: Callable[[Flow], float],
    source: str,
    where: str = "",
) -> None:
    """Refuse ``add_children`` changes larger than :func:`addition_limit` of their flow;
    ``expected(flow)``: the children a month the fit expects along a flow; ``where``: what
    that figure is of, for messages (e.g. `` in its smallest unit``)."""
    problems = []
    for label, change in labelled_changes(scenarios):
        if not isinstance(change, AddChildren):
            continue
        flow = expected(change.flow)
        limit = addition_limit(flow)
        if abs(change.per_month) > limit:
            problems.append(
                f"{source}: {label}: per_month: got {change.per_month:g}; allowed: at most "
                f'{limit:.4g} children a month either way on "{change.flow.text}" with this '
                f"fit ({ADD_MULTIPLE:g} x the {flow:.3g} a month the fit expects{where}, or "
                f"{ADD_FLOOR:g} a month if larger)"
            )
    if problems:
        raise ScenarioError("\n".join(problems))


# --- time profile ----------------------------------------------------------------------------


def month_numbers(month_ends: Sequence[date] | Sequence[str] | np.ndarray) -> np.ndarray:
    """[T] int: months since January 1970 of each month end (dates, ISO text or
    ``datetime64``; only the year and month are used)."""
    days = np.asarray(month_ends, dtype="datetime64[D]")
    return days.astype("datetime64[M]").astype("int64")


def ramp(change: ChangeBase, month_ends: Sequence[date] | Sequence[str] | np.ndarray) -> np.ndarray:
    """[T] float in [0, 1]: how much of ``change`` applies in each month.

    0 before the month containing ``change.start``. With ``ramp_months`` R = 0, 1 from that
    month on. With R > 0, k/R in the k-th month of the change (k = 1 in the month containing
    the start), so 1/R in the first month and 1 from the R-th on: e.g. R = 4 and a start in
    April gives 0.25 in April, 0.5 in May, 0.75 in June and 1 from July.
    """
    k = month_numbers(month_ends) - month_numbers([change.start])[0]
    if change.ramp_months == 0:
        return (k >= 0).astype("float64")
    return np.clip((k + 1) / change.ramp_months, 0.0, 1.0)


def effect(
    change: ChangeBase,
    month_ends: Sequence[date] | Sequence[str] | np.ndarray,
    baseline: float | np.ndarray | None = None,
) -> np.ndarray:
    """[..., T] the change's value in each month, phased in by :func:`ramp` (r):

    - ``multiply_rate``, ``multiply_unit_cost``: the multiplier 1 + (factor - 1) r;
    - ``redirect``: the share redirected, share r;
    - ``add_children``: children a month, per_month r;
    - ``set_capacity``, ``set_workforce``, ``set_inflation``: the value in force,
      baseline + (new - baseline) r, where ``baseline`` (needed; broadcast against [T], e.g.
      a scalar, [T], or [N, 1] per draw) is the value before the change.
    """
    r = ramp(change, month_ends)
    match change:
        case MultiplyRate(factor=factor) | MultiplyUnitCost(factor=factor):
            return 1.0 + (factor - 1.0) * r
        case Redirect(share=share):
            return share * r
        case AddChildren(per_month=per_month):
            return per_month * r
        case (
            SetCapacity(children=new) | SetWorkforce(social_workers=new) | SetInflation(annual=new)
        ):
            if baseline is None:
                raise ValueError(
                    f"{change.type} needs the baseline value to ramp from"  # type: ignore[attr-defined]
                )
            before = np.asarray(baseline, dtype="float64")
            return before + (new - before) * r
    raise TypeError(f"not a scenario change: {change!r}")
