"""The stock-flow network: the one definition of the model's structure.

Which states, age bands, destinations, entry streams and feedback terms the model has is
built here once (:meth:`Network.build`, from the structure config and whether the fit has
CIN data), carried by the fit's data (``FitData.network``), saved with every posterior
(the DataTree group ``network``: :meth:`Network.to_dataset`) and read back by the forecast
(:meth:`Network.from_dataset`). The likelihood's masks and feedback classes, the predictive
checks, simulation-based calibration, the forecast's inputs and simulator and the
scenarios' validation all read it; none restates the rules.

- **States** ``S``: the upstream states (``cin``, ``cpp``; with the CIN funnel only), then
  the care states (the placement groups after the structure's merging). Exits from care
  land in the open-case state ``cin`` (:attr:`Network.cin`).
- **Bands** ``B``: the age bands after merging.
- **Destinations** ``D`` (:func:`destination_table`, ``stay`` first): each has a kind
  (``KIND_*``), the state a move goes to, the exit reason of an exit, the feedback class
  (``CLASS_*``) whose log-odds a feedback term shifts, and the states that can take it in
  each band (:attr:`Network.allowed`).
- **Entry streams** ``K`` (:func:`stream_table`): each stream's children enter some states.
- **Feedback terms** (:data:`FEEDBACK_TERMS`, in the simulator's column order): what
  pressure each reads and what it shifts.

:meth:`Network.probabilities` is the one NumPy function that turns the fitted log-odds
(``eta`` [..., P, B] of each (state, destination) pair and band, and the yearly drift)
into monthly probabilities of staying and of each destination.

A new destination, or a new rule for who can take one, is one entry of
:func:`destination_table`; a new state comes from the structure config (care states) or
:data:`model.codes.UPSTREAM_STATES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from model.codes import EXIT_REASONS, UPSTREAM_STATES
from model.config.fit import StructureConfig

KIND_STAY, KIND_MOVE, KIND_EXIT, KIND_CLOSED, KIND_AGE = range(5)
KINDS = ("stay", "move", "exit", "closed", "age")
"""Kinds of destination: staying put; a move to another state (same band); leaving care by
an exit reason; a case closing (leaving the system from cin or cpp); ageing to the next band
(from the last band, a care state's ``age`` is leaving care at 18)."""

CLASS_OTHER, CLASS_EXIT, CLASS_CLOSED, CLASS_ESCALATION = range(4)
FEEDBACK_CLASSES = ("other", "exit", "closed", "escalation")
"""Destinations whose log-odds a feedback term shifts together."""

STAY, CLOSED, AGE = "stay", "closed", "age"
EXIT_PREFIX = "exit:"
REFERRAL, CARE = "referral", "care"
"""The entry streams' names: new cin cases and plans; entries to care."""
ENTRIES = "entries"
"""What a feedback term on the entry streams shifts (instead of a destination class)."""


def exit_name(reason: str) -> str:
    """The destination of leaving care by ``reason``: ``exit:<reason>``."""
    return f"{EXIT_PREFIX}{reason}"


@dataclass(frozen=True)
class Destination:
    """One destination: its ``name``, ``kind`` (``KIND_*``), the states that can take it
    (``sources``; ``last_band``: those that can in the last age band, when they differ),
    the state a move goes to (``target``), the exit ``reason`` and the feedback class
    ``klass`` (``CLASS_*``)."""

    name: str
    kind: int
    sources: tuple[str, ...]
    target: str = ""
    reason: str = ""
    klass: int = CLASS_OTHER
    last_band: tuple[str, ...] | None = None


def destination_table(
    upstream: tuple[str, ...], care: tuple[str, ...], reasons: tuple[str, ...]
) -> tuple[Destination, ...]:
    """Every destination of a network with these upstream and care states and exit reasons,
    ``stay`` first: the one place where a destination, and who can take it, is defined.

    A move goes to any other state, except from care to cin or cpp (leaving care is an exit
    by reason); moves up the ladder (to a plan, into care) are the caseload's escalation
    class. Care states leave by an exit reason; cin and cpp cases close. Every state ages to
    the next band; from the last band only care states do (leaving care at 18; a case
    closing at 18 is a closure)."""
    states = (*upstream, *care)
    ladder = (*upstream[1:], *care)
    return (
        Destination(STAY, KIND_STAY, states),
        *(
            Destination(
                target, KIND_MOVE,
                tuple(s for s in states if s != target and not (s in care and target in upstream)),
                target=target, klass=CLASS_ESCALATION if target in ladder else CLASS_OTHER,
            )
            for target in states
        ),
        *(Destination(exit_name(r), KIND_EXIT, care, reason=r, klass=CLASS_EXIT) for r in reasons),
        Destination(CLOSED, KIND_CLOSED, upstream, klass=CLASS_CLOSED),
        Destination(AGE, KIND_AGE, states, last_band=care),
    )  # fmt: skip


@dataclass(frozen=True)
class Stream:
    """An entry stream: its ``name`` and the ``states`` its children enter."""

    name: str
    states: tuple[str, ...]


def stream_table(upstream: tuple[str, ...], care: tuple[str, ...]) -> tuple[Stream, ...]:
    """The entry streams: referrals (new cin cases and plans; with the CIN funnel) and
    entries to care."""
    return (*((Stream(REFERRAL, upstream),) if upstream else ()), Stream(CARE, care))


@dataclass(frozen=True)
class FeedbackTerm:
    """A feedback coefficient: its ``name`` in the posterior, the ``pressure`` it reads
    (``capacity``: care population against placement capacity; ``caseload``: children known
    per social worker), what it ``shifts`` (a ``FEEDBACK_CLASSES`` name of departures, or
    ``entries``) and whether it shifts the departures of care states (``of_care``) or of
    cases."""

    name: str
    pressure: str
    shifts: str
    of_care: bool

    @property
    def klass(self) -> int:
        """The destination class it shifts (``CLASS_*``; -1: the entry streams)."""
        return FEEDBACK_CLASSES.index(self.shifts) if self.shifts in FEEDBACK_CLASSES else -1


FEEDBACK_TERMS = (
    FeedbackTerm("beta_exit_capacity", "capacity", "exit", of_care=True),
    FeedbackTerm("beta_entry_capacity", "capacity", ENTRIES, of_care=False),
    FeedbackTerm("beta_closure_caseload", "caseload", "closed", of_care=False),
    FeedbackTerm("beta_escalation_caseload", "caseload", "escalation", of_care=False),
)
"""Every feedback term, in the forecast simulator's column order."""
FEEDBACK = tuple(term.name for term in FEEDBACK_TERMS)
"""The feedback coefficients' names in the simulator's column order."""


@dataclass(frozen=True, eq=False)
class Network:
    """The model's structure as labels and arrays (see the module).

    ``care`` [S] bool: the care states; ``cin``: the open-case state where exits from care
    land (-1: no CIN funnel). Per destination [D] (``stay`` first): ``kind`` (``KIND_*``),
    target ``state`` (-1: none), exit ``reason`` index (-1: none), feedback ``klass``
    (``CLASS_*``). ``allowed`` [S, B, D] bool: which destinations each state and band has
    (stay always). ``enters`` [K, S] bool: the states each entry stream enters.
    ``feedback``: the feedback terms in the simulator's order."""

    states: tuple[str, ...]
    care: np.ndarray
    cin: int
    bands: tuple[str, ...]
    destinations: tuple[str, ...]
    kind: np.ndarray
    state: np.ndarray
    reason: np.ndarray
    klass: np.ndarray
    reasons: tuple[str, ...]
    allowed: np.ndarray
    streams: tuple[str, ...]
    enters: np.ndarray
    feedback: tuple[FeedbackTerm, ...] = FEEDBACK_TERMS

    @classmethod
    def build(cls, structure: StructureConfig, use_cin: bool) -> Network:
        """The network of a model of ``structure``; ``use_cin``: whether it has the CIN
        funnel (the structure asks for it and the fit has CIN census data)."""
        care = tuple(dict.fromkeys(structure.placement_groups.values()))
        upstream = UPSTREAM_STATES if use_cin else ()
        bands = tuple(dict.fromkeys(structure.age_bands.values()))
        return cls.assemble(upstream, care, bands, EXIT_REASONS)

    @classmethod
    def assemble(
        cls,
        upstream: tuple[str, ...],
        care: tuple[str, ...],
        bands: tuple[str, ...],
        reasons: tuple[str, ...],
    ) -> Network:
        """The network of these states, bands and exit reasons (:func:`destination_table`,
        :func:`stream_table`)."""
        states = (*upstream, *care)
        table = destination_table(upstream, care, reasons)
        streams = stream_table(upstream, care)
        allowed = np.zeros((len(states), len(bands), len(table)), dtype=bool)
        for d, dest in enumerate(table):
            for b in range(len(bands)):
                last = b == len(bands) - 1 and dest.last_band is not None
                sources = dest.last_band if last else dest.sources
                allowed[[states.index(s) for s in sources or ()], b, d] = True
        return cls(
            states=states,
            care=np.array([s in care for s in states], dtype=bool),
            cin=states.index(upstream[0]) if upstream else -1,
            bands=bands,
            destinations=tuple(dest.name for dest in table),
            kind=np.array([dest.kind for dest in table], dtype=np.int64),
            state=np.array([states.index(d.target) if d.target else -1 for d in table], np.int64),
            reason=np.array([reasons.index(d.reason) if d.reason else -1 for d in table], np.int64),
            klass=np.array([dest.klass for dest in table], dtype=np.int64),
            reasons=tuple(reasons),
            allowed=allowed,
            streams=tuple(stream.name for stream in streams),
            enters=np.array([[s in stream.states for s in states] for stream in streams], bool),
        )

    # --- labels --------------------------------------------------------------------------

    @property
    def care_states(self) -> tuple[str, ...]:
        return tuple(s for s, c in zip(self.states, self.care, strict=True) if c)

    @property
    def upstream(self) -> tuple[str, ...]:
        """The states before care (cin, cpp), with the CIN funnel."""
        return tuple(s for s, c in zip(self.states, self.care, strict=True) if not c)

    def of_kind(self, kind: int) -> tuple[str, ...]:
        """The destinations of a kind (``KIND_*``), in order."""
        return tuple(d for d, k in zip(self.destinations, self.kind, strict=True) if k == kind)

    @property
    def exits(self) -> tuple[str, ...]:
        """``exit:<reason>`` for every exit reason."""
        return self.of_kind(KIND_EXIT)

    def stream_states(self, stream: str) -> tuple[str, ...]:
        """The states a stream's children enter."""
        row = self.enters[self.streams.index(stream)]
        return tuple(s for s, on in zip(self.states, row, strict=True) if on)

    def stream_of(self, state: str) -> str:
        """The entry stream whose children enter ``state``."""
        return self.streams[int(np.argmax(self.enters[:, self.states.index(state)]))]

    def departure_terms(self, pressures: object) -> list[FeedbackTerm]:
        """The feedback terms on departures that read one of ``pressures``, in order."""
        return [t for t in self.feedback if t.shifts != ENTRIES and t.pressure in pressures]

    def entry_terms(self, pressures: object) -> list[FeedbackTerm]:
        """The feedback terms on the entry streams that read one of ``pressures``."""
        return [t for t in self.feedback if t.shifts == ENTRIES and t.pressure in pressures]

    def shifted_states(self, term: FeedbackTerm) -> np.ndarray:
        """[S] bool: the states whose departures a feedback term shifts."""
        return self.care if term.of_care else ~self.care

    # --- masks of the likelihood ----------------------------------------------------------

    @property
    def pair_allowed(self) -> np.ndarray:
        """[S, D] bool: destinations each state has in some band (stay always)."""
        return self.allowed.any(axis=1)

    @property
    def mask(self) -> np.ndarray:
        """[S, B, D-1] bool: the destinations (not stay) each state and band can have."""
        return self.allowed[:, :, 1:]

    @property
    def pairs(self) -> np.ndarray:
        """[P, 2] (state, destination - 1) of every pair with a rate, in the likelihood's
        order (``eta`` [P, B])."""
        return np.argwhere(self.mask.any(axis=1))

    @property
    def pair_labels(self) -> list[str]:
        """``state->destination`` of each pair."""
        return [f"{self.states[s]}->{self.destinations[d + 1]}" for s, d in self.pairs]

    @property
    def grid_index(self) -> np.ndarray:
        """[S, B, D-1] positions in ``[impossible, eta.flatten()...]`` (``eta`` [P, B]):
        1 + p * B + b for a cell of pair p that exists, 0 otherwise."""
        mask, n_bands = self.mask, len(self.bands)
        index = np.zeros(mask.shape, dtype="int64")
        for p, (s, d) in enumerate(self.pairs):
            index[s, :, d] = np.where(mask[s, :, d], 1 + p * n_bands + np.arange(n_bands), 0)
        return index

    @property
    def classes(self) -> np.ndarray:
        """[C, D-1] bool: each destination's (not stay's) feedback class."""
        return np.stack([self.klass[1:] == c for c in range(len(FEEDBACK_CLASSES))])

    # --- probabilities --------------------------------------------------------------------

    def log_odds(self, eta: np.ndarray, drift: np.ndarray | None = None) -> np.ndarray:
        """[..., (W,) S, B, D] monthly log-odds against staying of every destination (stay:
        0; -inf where the state and band have no such destination) from ``eta`` [..., P, B]
        and, when given, the yearly ``drift`` [..., W, S] of each state's departures."""
        eta = np.asarray(eta, dtype=float)
        lead = eta.shape[:-2]
        flat = np.concatenate([np.full((*lead, 1), -np.inf), eta.reshape(*lead, -1)], axis=-1)
        grid = np.take(flat, self.grid_index, axis=-1)  # [..., S, B, D-1]
        if drift is not None:
            drift = np.asarray(drift, dtype=float)
            grid = grid[..., None, :, :, :] + drift[..., :, :, None, None]
        return np.concatenate([np.zeros((*grid.shape[:-1], 1)), grid], axis=-1)

    def probabilities(self, eta: np.ndarray, drift: np.ndarray | None = None) -> np.ndarray:
        """[..., (W,) S, B, D] monthly probabilities of staying (d=0) and of each destination:
        the softmax of :meth:`log_odds` (exactly 0 where there is no such destination; the
        likelihood gives those cells log-odds ``EXCLUDED``)."""
        logits = self.log_odds(eta, drift)
        logits -= logits.max(axis=-1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=-1, keepdims=True)

    # --- saved with the posterior ---------------------------------------------------------

    def to_dataset(self) -> xr.Dataset:
        """The network as a Dataset over named dimensions (``state``, ``band``,
        ``destination``, ``stream``, ``reason``, ``feedback_term``): the posterior's
        ``network`` group."""
        named = {"target": (self.state, self.states), "exit_reason": (self.reason, self.reasons)}
        return xr.Dataset(
            {
                "care": ("state", self.care),
                "kind": ("destination", [KINDS[k] for k in self.kind]),
                **{
                    key: ("destination", [labels[i] if i >= 0 else "" for i in index])
                    for key, (index, labels) in named.items()
                },
                "feedback_class": ("destination", [FEEDBACK_CLASSES[c] for c in self.klass]),
                "allowed": (("state", "band", "destination"), self.allowed),
                "enters": (("stream", "state"), self.enters),
                "open_case": ((), self.states[self.cin] if self.cin >= 0 else ""),
                "pressure": ("feedback_term", [t.pressure for t in self.feedback]),
                "shifts": ("feedback_term", [t.shifts for t in self.feedback]),
                "of_care": ("feedback_term", [t.of_care for t in self.feedback]),
            },
            coords={
                "state": list(self.states),
                "band": list(self.bands),
                "destination": list(self.destinations),
                "stream": list(self.streams),
                "reason": list(self.reasons),
                "feedback_term": [t.name for t in self.feedback],
            },
            attrs={"description": "the stock-flow network the model was fitted with"},
        )

    @classmethod
    def from_dataset(cls, dataset: xr.Dataset) -> Network:
        """The network saved by :meth:`to_dataset`."""

        def labels(name: str) -> tuple[str, ...]:
            return tuple(str(v) for v in dataset[name].values)

        def index(name: str, within: tuple[str, ...]) -> np.ndarray:
            return np.array([within.index(v) if v else -1 for v in labels(name)], np.int64)

        states, reasons = labels("state"), labels("reason")
        open_case = str(dataset["open_case"].values)
        return cls(
            states=states,
            care=np.asarray(dataset["care"].values, dtype=bool),
            cin=states.index(open_case) if open_case else -1,
            bands=labels("band"),
            destinations=labels("destination"),
            kind=index("kind", KINDS),
            state=index("target", states),
            reason=index("exit_reason", reasons),
            klass=index("feedback_class", FEEDBACK_CLASSES),
            reasons=reasons,
            allowed=np.asarray(dataset["allowed"].values, dtype=bool),
            streams=labels("stream"),
            enters=np.asarray(dataset["enters"].values, dtype=bool),
            feedback=tuple(
                FeedbackTerm(name, pressure, shifts, bool(of_care))
                for name, pressure, shifts, of_care in zip(
                    labels("feedback_term"), labels("pressure"), labels("shifts"),
                    dataset["of_care"].values, strict=True,
                )
            ),
        )  # fmt: skip

    def same_as(self, other: Network) -> bool:
        """Whether two networks are the same structure."""
        return self.to_dataset().identical(other.to_dataset())


def _label(name: str) -> property:
    return property(lambda self: getattr(self.network, name), doc=f"The network's {name}.")


class NetworkLabels:
    """The labels of ``self.network``, for the classes that carry one."""

    network: Network
    states = _label("states")
    care_states = _label("care_states")
    bands = _label("bands")
    destinations = _label("destinations")
    streams = _label("streams")
    reasons = _label("reasons")
