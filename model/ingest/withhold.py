"""The one place values from the inputs are withheld from messages meant to be shared.

Reports and logs say where a problem is (file, row or element, field) and what was expected,
never what a child's identifier, date of birth or postcode was. XML Schema messages (lxml's)
quote the offending value, so :func:`withhold_values` cuts it out; :func:`withheld_cell`
stands for any one value a report would otherwise echo.
"""

from __future__ import annotations

import re

WITHHELD = "(value withheld)"

# lxml quotes the value right after "The value " or at the start of the detail, and follows
# it with " is not ..." or " has a length ...". The match runs to the *last* such phrase, so
# a value that itself holds quotes or those words is cut out whole.
_QUOTED = re.compile(
    r"(The value |^)'.*'(?=(?: is not | has a length )(?!.*' (?:is not|has a length) ))",
    re.DOTALL,
)
_ANY_QUOTED = re.compile(r"'[^']*'")


def withhold_values(detail: str) -> str:
    """``detail`` (an XSD message after its ``Element '...':``) with the quoted input value
    replaced by :data:`WITHHELD`. A detail of a shape this does not know loses every quoted
    part instead, so nothing of the value can pass."""
    cut, found = _QUOTED.subn(lambda m: f"{m.group(1)}{WITHHELD}", detail, count=1)
    if found:
        return cut
    return _ANY_QUOTED.sub(WITHHELD, detail)
