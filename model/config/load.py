"""Reading and validating a config: ``config/config.yaml`` (or any YAML file, or an
already-parsed mapping) into :class:`model.config.carecast.CarecastConfig`, or a
:class:`model.config.errors.ConfigError` whose message names the file.

YAML is read with a safe loader that also refuses a key given twice; a file that cannot be
read or parsed is named with the line and column of the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from model.config.carecast import CarecastConfig
from model.config.errors import ConfigError, invalid_config, show_value
from model.input_files import InputFileError, display_name, read_input


def validate_config(data: Any, source: str = "config") -> CarecastConfig:
    """Validate an already-parsed mapping; raise :class:`ConfigError` naming ``source``."""
    if data is None:
        data = {}  # an empty YAML file means "all defaults"
    if not isinstance(data, dict):
        raise ConfigError(
            f"Invalid config in {source}:\n  - (whole file): got {show_value(data)}; "
            "allowed: a mapping of keys such as 'seed: 1'"
        )
    try:
        return CarecastConfig.model_validate(data)
    except ValidationError as exc:
        # from None: the chained pydantic traceback would only repeat the message's lines
        raise invalid_config(exc, source) from None


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
