"""Configuration errors: :class:`ConfigError` and the one wording of pydantic's validation
errors, one plain line per problem naming the key as a dotted path, what was given and
what is allowed.

The scenario files' messages (``model.forecast.scenarios``) word type and bound errors
with :func:`describe_error` too.
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from model.config.carecast import CarecastConfig


class ConfigError(ValueError):
    """A configuration file or mapping is invalid; the message says what to change."""


def invalid_config(exc: ValidationError, source: str) -> ConfigError:
    """The :class:`ConfigError` of a mapping that failed validation: one line per problem,
    naming ``source``."""
    problems = [describe_error(error) for error in exc.errors(include_url=False)]
    noun = "problem" if len(problems) == 1 else "problems"
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return ConfigError(f"Invalid config in {source} ({len(problems)} {noun}):\n{lines}")


def _dotted(loc: tuple[int | str, ...]) -> str:
    """``("authorities", 1)`` -> ``authorities[1]``; ``("demo", "x")`` -> ``demo.x``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(whole config)"


def show_value(value: Any) -> str:
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


def describe_error(error: ErrorDetails) -> str:
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
    given = show_value(error["input"])
    if kind == "path_not_file":
        given = f"'{error['input']}', which is not an existing file"
    return f"{key}: got {given}; allowed: {allowed}"
