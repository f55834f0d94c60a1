"""Safe XML parsing settings shared by every reader of returns (903 XML, CIN census).

Entities are never expanded, nothing is fetched from the network, no DTD is loaded and
huge trees are refused; readers also refuse any DOCTYPE outright, which defeats
entity-expansion bombs and external entities whatever the parser does.
"""

from __future__ import annotations

import re

from lxml import etree

SAFE_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
}
"""Keyword arguments for ``etree.XMLParser`` and ``etree.iterparse``."""

DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
"""A DOCTYPE declaration in raw bytes: files that have one are refused."""


def safe_parser(**extra: bool) -> etree.XMLParser:
    """An XML parser with SAFE_OPTIONS (plus ``extra`` options, e.g. remove_comments)."""
    return etree.XMLParser(**SAFE_OPTIONS, **extra)
