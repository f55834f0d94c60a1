"""Link CIN census children to 903 children of the same authority.

The two returns usually come from one case-management system and share the LA child id,
but not always (a system migration, a different id in one return). Children are linked by
LA child id first; the children left on both sides are then linked by UPN (the CIN
census's UPN or former UPN against the 903 Header's UPN) when the UPN is a real one
(13 characters: a letter, 11 digits, a digit or letter; not a UN code) and names exactly one
child on each side. Nothing else is tried: a wrong link is worse than none.
"""

from __future__ import annotations

import pandas as pd

from model.ingest.ledger import isin

UPN_PATTERN = r"[A-Z]\d{11}[0-9A-Z]"
LINK_METHODS = ("id", "upn")


def _unique_upns(ids: pd.Series, upns: pd.Series) -> pd.DataFrame:
    """(id, UPN) pairs whose real UPN belongs to exactly one id."""
    pairs = pd.DataFrame({"id": ids.to_numpy(), "UPN": upns.to_numpy()})
    pairs = pairs[pairs["UPN"].str.fullmatch(UPN_PATTERN)].drop_duplicates()
    return pairs[~pairs["UPN"].duplicated(keep=False)]


def link_children(cin_children: pd.DataFrame, children_903: pd.DataFrame) -> pd.DataFrame:
    """One row per CIN child: LAchildID, CHILD (the 903 child id, "" when not linked) and
    method ("id", "upn" or "" when not linked).

    ``cin_children`` needs LAchildID, UPN and FormerUPN; ``children_903`` CHILD and UPN.
    """
    cin_ids = cin_children["LAchildID"]
    by_id = isin(cin_ids, children_903["CHILD"])
    out = pd.DataFrame(
        {
            "LAchildID": cin_ids.to_numpy(),
            "CHILD": cin_ids.where(by_id, "").to_numpy(),
            "method": pd.Series("id", index=cin_ids.index).where(by_id, "").to_numpy(),
        }
    )
    left_903 = children_903[~isin(children_903["CHILD"], cin_ids)]
    left_cin = cin_children[~by_id.to_numpy()]
    if left_903.empty or left_cin.empty:
        return out
    upn_903 = _unique_upns(left_903["CHILD"], left_903["UPN"].fillna("")).set_index("UPN")["id"]
    candidates = pd.concat(
        [
            pd.DataFrame({"id": left_cin["LAchildID"], "UPN": left_cin[column].fillna("")})
            for column in ("UPN", "FormerUPN")
        ]
    )
    upn_cin = _unique_upns(candidates["id"], candidates["UPN"])
    upn_cin = upn_cin.assign(CHILD=upn_cin["UPN"].map(upn_903)).dropna(subset=["CHILD"])
    # One 903 child per CIN child and one CIN child per 903 child, or no link.
    upn_cin = upn_cin[
        ~upn_cin["id"].duplicated(keep=False) & ~upn_cin["CHILD"].duplicated(keep=False)
    ]
    found = upn_cin.set_index("id")["CHILD"]
    linked = out["LAchildID"].map(found)
    hit = linked.notna() & (out["method"] == "")
    out.loc[hit, "CHILD"] = linked[hit]
    out.loc[hit, "method"] = "upn"
    return out
