"""The workflow configuration: pydantic models that are its single source of truth.

``config/config.yaml`` is read into :class:`CarecastConfig`. The JSON schema that Snakemake
validates against (``workflow/schemas/config.schema.json``) is generated from these models
by ``workflow/scripts/write_config_schema.py``; a test fails when the two drift apart.

Every model forbids unknown keys and is strict about types: ``seed: yes`` is an error, not
seed 1. The one leniency is text that spells a whole number or true/false, because
Snakemake's ``--config`` passes nested values as text; :meth:`CarecastConfig.model_dump`
gives the canonical values, which is what the JSON schema describes. :func:`load_config`
turns validation errors into one plain line per problem, naming the key as a dotted path.

Every random seed in the pipeline comes from :func:`derive_seed`: the configured ``seed``
plus names (authority, stage, scenario), hashed with BLAKE2b, so that a rerun is
bit-identical and adding an authority changes no other authority's draws.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FilePath,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from model.codes import (
    CARE_STATES,
    EXIT_REASONS,
    LEGAL_STATUS_GROUP,
    LEGAL_STATUS_GROUPS,
    NEW_EPISODE_REASON,
    PLACE_GROUP,
    REC_REASON,
)
from model.config.costs import CostsConfig
from model.config.fit import DiagnosticsConfig, PriorsConfig, SamplerConfig, StructureConfig
from model.config.forecast import ForecastConfig
from model.config.published import PublishedPriorsConfig
from model.input_files import InputFileError, display_name, read_input

FIRST_SUPPORTED_YEAR = 2012
"""Earliest year (ending 31 March) accepted; older return formats are untested."""

LAST_SUPPORTED_YEAR = 2030
"""Latest year (ending 31 March) accepted, a guard against typos such as 2205."""

MAX_DEMO_AUTHORITIES = 50
"""Upper bound on synthetic authorities: enough for pooling tests, small enough to run."""

AUTHORITY_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
"""An authority code is a folder name; no spaces or dots, so it is safe in paths and shells."""

DEMO_CODE_PREFIX = "SYN"
"""Synthetic authorities are SYN01, SYN02, ...: never a real DfE or ONS code."""


def _from_text(value: Any) -> Any:
    """Read ``"2016"`` as 2016 and ``"true"`` as True: ``--config demo={...}`` gives text."""
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if text.lower() in {"true", "false"}:
            return text.lower() == "true"
    return value


# Strict models: a bool is not an int, a float is not an int; _from_text is the exception.
Int = Annotated[int, BeforeValidator(_from_text)]
Bool = Annotated[bool, BeforeValidator(_from_text)]
# Paths come from YAML as text; strict mode would demand pathlib objects, so relax it here only.
LoosePath = Annotated[Path, Field(strict=False)]
LooseFilePath = Annotated[FilePath, Field(strict=False)]
# An optional folder: empty text means none, as null does.
OptionalPath = Annotated[
    LoosePath | None, BeforeValidator(lambda value: None if value == "" else value)
]
Year = Annotated[
    int, Field(ge=FIRST_SUPPORTED_YEAR, le=LAST_SUPPORTED_YEAR), BeforeValidator(_from_text)
]
AuthorityCode = Annotated[str, Field(pattern=AUTHORITY_CODE_PATTERN, min_length=1, max_length=40)]


class ConfigError(ValueError):
    """A configuration file or mapping is invalid; the message says what to change."""


class PathsConfig(BaseModel):
    """Where the pipeline reads and writes, relative to the working directory."""

    model_config = ConfigDict(extra="forbid", strict=True)

    raw_data_dir: LoosePath = Field(
        default=Path("data/raw"),
        description="Folder holding one sub-folder per authority with its real returns: "
        "{raw_data_dir}/{LA}/ssda903/** and {raw_data_dir}/{LA}/cin/**.",
    )
    results_dir: LoosePath = Field(
        default=Path("results"),
        description="Folder for outputs (one sub-folder per authority) and the rules' logs.",
    )
    demo_dir: LoosePath = Field(
        default=Path("data/demo"),
        description="Folder the synthetic demo authorities are written to.",
    )
    private_dir: LoosePath = Field(
        default=Path("data/private"),
        description="Folder for child-level outputs of the ingest stage (clean episodes, "
        "row outcomes), one sub-folder per authority. Never share it.",
    )
    published_dir: OptionalPath = Field(
        default=None,
        description="Folder of DfE's published local-authority tables for the national fit "
        "of every authority (results/national/); empty or null: no national fit.",
    )


class DemoConfig(BaseModel):
    """The synthetic demo: authorities simulated with known truth, written as real returns."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: Bool = Field(
        default=True,
        description="Run the demo authorities when `authorities` is empty.",
    )
    authorities: Int = Field(
        default=3,
        ge=1,
        le=MAX_DEMO_AUTHORITIES,
        description="Number of synthetic authorities (codes SYN01, SYN02, ...).",
    )
    first_year: Year = Field(
        default=2016,
        description="First year of returns written, as the year ending 31 March.",
    )
    last_year: Year = Field(
        default=2025,
        description="Last year of returns written, as the year ending 31 March; "
        "must be later than first_year.",
    )
    faults: Bool = Field(
        default=True,
        description="Inject the data-quality faults seen in real returns "
        "(stale open episodes, overlaps, format drift) so ingest repairs are exercised.",
    )
    truth_file: LooseFilePath | None = Field(
        default=None,
        description="YAML file of the true rates the generator simulates; "
        "null uses the generator's default (model/synth/default_truth.yaml).",
    )

    @field_validator("last_year")
    @classmethod
    def _after_first_year(cls, last_year: int, info: ValidationInfo) -> int:
        first_year = info.data.get("first_year")  # absent when first_year itself was invalid
        if first_year is not None and last_year <= first_year:
            raise PydanticCustomError(
                "year_order",
                "a year after first_year ({first_year})",
                {"first_year": first_year},
            )
        return last_year


PlacementGroup = Literal[CARE_STATES]  # type: ignore[valid-type]
ExitReason = Literal[EXIT_REASONS]  # type: ignore[valid-type]
LegalStatusGroup = Literal[LEGAL_STATUS_GROUPS]  # type: ignore[valid-type]
EpisodeReason = Literal["starts_period", "continues_period"]


class CategoriesConfig(BaseModel):
    """How DfE codes map to the model's categories (the one table the ingest uses)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    place_groups: dict[str, PlacementGroup] = Field(
        default_factory=lambda: dict(PLACE_GROUP),
        description="903 PLACE code -> placement group. Temporary placements (T0-T4) are "
        "not listed: they continue the placement around them. A code not listed is "
        "quarantined as unknown.",
    )
    exit_reasons: dict[str, ExitReason] = Field(
        default_factory=lambda: dict(REC_REASON),
        description="903 REC code -> exit reason group (X1, a continuing period, is not "
        "listed). A code not listed is quarantined as unknown.",
    )
    legal_statuses: dict[str, LegalStatusGroup] = Field(
        default_factory=lambda: dict(LEGAL_STATUS_GROUP),
        description="903 LS code -> DfE legal-status group; codes in short_break are "
        "excluded from every stock. A code not listed is quarantined as unknown.",
    )
    new_episode_reasons: dict[str, EpisodeReason] = Field(
        default_factory=lambda: dict(NEW_EPISODE_REASON),
        description="903 RNE code -> whether the episode starts a period of care or "
        "continues one. A code not listed is quarantined as unknown.",
    )


class CarecastConfig(BaseModel):
    """Configuration of a carecast run: one seed, the folders, the demo and the authorities."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seed: Int = Field(
        default=20250331,
        ge=0,
        description="The one random seed every stage derives its own seed from.",
    )
    paths: PathsConfig = Field(default_factory=PathsConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)
    categories: CategoriesConfig = Field(default_factory=CategoriesConfig)
    structure: StructureConfig = Field(default_factory=StructureConfig)
    priors: PriorsConfig = Field(default_factory=PriorsConfig)
    published: PublishedPriorsConfig = Field(default_factory=PublishedPriorsConfig)
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    forecast: ForecastConfig = Field(default_factory=ForecastConfig)
    costs: CostsConfig = Field(default_factory=CostsConfig)
    authorities: list[AuthorityCode] = Field(
        default_factory=list,
        json_schema_extra={"uniqueItems": True},
        description="Codes (folder names under raw_data_dir) of the real authorities to "
        "process. Empty: run the demo authorities instead.",
    )

    @field_validator("authorities")
    @classmethod
    def _no_duplicates(cls, codes: list[str]) -> list[str]:
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise PydanticCustomError(
                "duplicate_authorities",
                "each code once (repeated: {repeated})",
                {"repeated": ", ".join(repeated)},
            )
        return codes

    @model_validator(mode="after")
    def _something_to_run(self) -> Self:
        if not self.authorities and not self.demo.enabled:
            raise PydanticCustomError(
                "nothing_to_run",
                "`authorities` is empty and `demo.enabled` is false, so there is nothing "
                "to run: list authority folders under `authorities` or set "
                "`demo.enabled: true`",
            )
        return self

    def demo_authority_codes(self) -> list[str]:
        """Codes of the synthetic authorities the workflow runs (empty when it runs real ones)."""
        if self.authorities or not self.demo.enabled:
            return []
        return demo_authority_codes(self.demo.authorities)


def demo_authority_codes(n: int) -> list[str]:
    """Codes of ``n`` synthetic authorities: ``SYN01`` ... (two digits, ``n`` <= 99)."""
    return [f"{DEMO_CODE_PREFIX}{i:02d}" for i in range(1, n + 1)]


def derive_seed(seed: int, *parts: str) -> int:
    """Seed for one piece of work, from the configured ``seed`` and names identifying it.

    ``parts`` name the work, e.g. ``("SYN01", "synthesize")`` or ``(la, "forecast",
    scenario)``. The result is a stable function of exactly these arguments (BLAKE2b over
    a JSON encoding, so ``("ab",)`` and ``("a", "b")`` differ), independent of Python's
    hash randomisation, platform and of any other authority. It lies in [0, 2**63) so it
    fits a signed 64-bit integer for any RNG.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    if not all(isinstance(part, str) for part in parts):
        raise TypeError(f"seed parts must be strings, got {parts!r}")
    payload = json.dumps([seed, *parts], ensure_ascii=True).encode("ascii")
    digest = hashlib.blake2b(payload, digest_size=8, person=b"carecast-seed").digest()
    return int.from_bytes(digest, "big") >> 1


def json_schema() -> dict[str, Any]:
    """JSON schema of :class:`CarecastConfig` (what Snakemake's ``validate`` checks)."""
    schema = CarecastConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def validate_config(data: Any, source: str = "config") -> CarecastConfig:
    """Validate an already-parsed mapping; raise :class:`ConfigError` naming ``source``."""
    if data is None:
        data = {}  # an empty YAML file means "all defaults"
    if not isinstance(data, dict):
        raise ConfigError(
            f"Invalid config in {source}:\n  - (whole file): got {_show(data)}; "
            "allowed: a mapping of keys such as 'seed: 1'"
        )
    try:
        return CarecastConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_describe_error(error) for error in exc.errors(include_url=False)]
        noun = "problem" if len(problems) == 1 else "problems"
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise ConfigError(
            f"Invalid config in {source} ({len(problems)} {noun}):\n{lines}"
        ) from None  # the chained pydantic traceback would only repeat the lines above


def load_config(path: str | Path) -> CarecastConfig:
    """Read and validate a YAML config file; raise :class:`ConfigError` on any problem.

    Every message names the file; a syntax error, a byte that is not UTF-8 and a key given
    twice also give the line and column; a value that does not validate gives its key path.
    """
    return validate_config(read_config_yaml(path), source=display_name(Path(path)))


def read_config_yaml(path: str | Path) -> object:
    """The parsed YAML of a config file, not yet validated (:func:`load_config`'s messages
    for a file that cannot be read or parsed)."""
    path = Path(path)
    shown = display_name(path)
    try:
        raw = read_input(path)  # a regular file under the size cap: never a FIFO
    except InputFileError as exc:
        raise ConfigError(f"Cannot read config file {shown}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(raw[: exc.start].decode("utf-8"), exc.start)
        raise ConfigError(
            f"Config file {shown} is not valid YAML at line {line}, column {column}: byte "
            f"0x{raw[exc.start]:02x} is not UTF-8 text; expected the file saved as UTF-8"
        ) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {shown} is not valid YAML{_where(exc, text)}: "
                          f"{_problem(exc)}") from None  # fmt: skip


def _line_column(before: str, offset: int) -> tuple[int, int]:
    """1-based line and column of the character after ``before`` (``offset`` characters)."""
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def _where(exc: yaml.YAMLError, text: str) -> str:
    """ " at line L, column C" of a YAML error: its problem mark, or for a character the
    reader refused (no mark) its position; "" when it has neither."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f" at line {mark.line + 1}, column {mark.column + 1}"
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        line, column = _line_column(text[:position], position)
        return f" at line {line}, column {column}"
    return ""


def _problem(exc: yaml.YAMLError) -> str:
    """What is wrong, without YAML's own location text (given as line and column)."""
    if isinstance(exc, yaml.reader.ReaderError):
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f"the character U+{code:04X} is not allowed in YAML; expected printable text"
    return getattr(exc, "problem", None) or str(exc)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping: YAML would keep the
    last silently, so a setting written twice would quietly lose its first value."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """The mapping of ``node``; raises a marked error at a repeated key."""
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *anchor": keys given here may override merged ones
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                break
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key!r} is given twice (first at line {first.line + 1}); expected "
                    "each key once",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


# --- turning pydantic errors into one readable line each -------------------------------------


def _dotted(loc: tuple[int | str, ...]) -> str:
    """``("authorities", 1)`` -> ``authorities[1]``; ``("demo", "x")`` -> ``demo.x``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(whole config)"


def _show(value: Any) -> str:
    """A value as the user wrote it in YAML, with its kind when that explains the error."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}' (text)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class found by following ``loc`` from the top (None if not a model)."""
    model: type[BaseModel] = CarecastConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _allowed(loc: tuple[int | str, ...]) -> str | None:
    """What the field at ``loc`` accepts, from its type and bounds (None if unknown)."""
    names = [part for part in loc if isinstance(part, str)]
    parent = _model_at(tuple(names[:-1]))
    field = parent.model_fields.get(names[-1]) if parent and names else None
    if field is None:
        return None
    in_list = isinstance(loc[-1], int)
    if names[-1] == "authorities" and parent is CarecastConfig:
        if in_list:
            return "a folder name of letters, digits, '_' or '-'"
        return "a list of authority codes, e.g. [E09000001, E09000002], or []"
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"a mapping with keys {', '.join(annotation.model_fields)}"
    if annotation is bool:
        return "true or false"
    if annotation is int:
        # bounds live in the field's annotated-types metadata (Ge, Le)
        low = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
        high = next((m.le for m in field.metadata if hasattr(m, "le")), None)
        if low is not None and high is not None:
            return f"a whole number from {low} to {high}"
        if low is not None:
            return f"a whole number >= {low}"
        return "a whole number"
    if annotation is Path:
        return "a folder path (text)"
    if Path in typing.get_args(annotation) or any(
        Path in typing.get_args(arg) for arg in typing.get_args(annotation)
    ):  # Optional[Annotated[Path, ...]]: the optional file paths (truth_file)
        return "the path of an existing file (relative to the working directory), or null"
    return None


def _describe_error(error: ErrorDetails) -> str:
    """One line for one pydantic error: key, what was given, what is allowed."""
    loc = tuple(error["loc"])
    key = _dotted(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        names = list(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        where = f"under '{_dotted(loc[:-1])}'" if loc[:-1] else "at the top level"
        return f"{key}: unknown key; {hint}(allowed {where}: {', '.join(names)})"
    if kind == "missing":
        return f"{key}: missing; allowed: {_allowed(loc) or 'see config/config.yaml'}"
    if kind == "nothing_to_run":
        return f"{key}: {error['msg']}"
    if kind in {"year_order", "duplicate_authorities"}:
        allowed = error["msg"]  # the custom message already says what would be valid
    else:
        allowed = _allowed(loc) or error["msg"]
    given = _show(error["input"])
    if kind == "path_not_file":
        given = f"'{error['input']}', which is not an existing file"
    return f"{key}: got {given}; allowed: {allowed}"
