"""Inject data-quality faults into the written CIN census XML files, and list each one.

Like :mod:`model.synth.faults` (the 903 faults), this changes the files only, never the
truth. It runs after :func:`model.synth.write_cin.write_cin_census` has written every year:
each file is parsed (safe parser, blank text dropped), changed in memory and written back
pretty-printed with the writer's declaration, so an unchanged file keeps its exact bytes and
the same seed gives the same bytes.

Each kind has its own rate in :class:`~model.synth.truth_config.FaultRates`: the share of
the kind's eligible items (below) that get the fault. Every eligible item takes one uniform
draw, in a fixed order (kinds in the order below, files by year, elements in document
order), so the result is a pure function of the files and the seed.

**One CIN fault per child**, and children that a 903 fault already names are never picked:
the ingest's round-trip test can then drop the affected children cleanly. An item whose
child is taken is skipped.

CIN episodes are matched across files by (LAchildID, CINreferralDate): the writer gives a
child at most one episode per referral date, and an episode appears in every census it was
open in.

Kinds (the cleaner's intended handling in brackets; "recoverable" means a correct cleaner
still gets the true stocks and flows):

1. ``cin_id_changed`` (links by UPN; recoverable): a child with 903 episodes and a real UPN
   gets a new LAchildID (``id + "C"``) in every census it is in. Eligible: such children.
2. ``assessment_before_referral`` (start clamped to the referral; recoverable, the model
   counts assessments by authorisation): AssessmentActualStartDate 1-30 days before the
   CINreferralDate, the same date in every file holding the assessment. Eligible:
   assessments (child, referral, start) that are unambiguous within each file.
3. ``duplicate_module`` (copy dropped; recoverable): an Assessments, Section47 or
   ChildProtectionPlans element repeated verbatim right after itself, in one file.
   Eligible: such elements, per file.
4. ``unknown_referral_source`` (code not used; recoverable): ReferralSource "99", not in
   any code list, so the file fails its XSD. Eligible: CINdetails, per file.
5. ``closure_reason_missing`` (closure kept, reason unknown; unrecoverable): ReasonForClosure
   removed. Eligible: closed CINdetails, per file (a closure is in one file only).
6. ``closure_before_referral`` (episode quarantined; unrecoverable): CINclosureDate 1-60 days
   before the CINreferralDate in every file with the closure. Eligible: closed episodes.
7. ``referral_after_census`` (quarantined; unrecoverable): CINreferralDate one year later,
   in one file. Eligible: CINdetails, per file, for which that date is after the file's
   ReferenceDate (29 February referrals excluded: the typo has no date).
8. ``missing_lachildid`` (child skipped in that file; unrecoverable): the LAchildID element
   removed, so the file fails its XSD. Eligible: Child elements, per file.
9. ``open_episode_dropped`` (closed with reason unknown; unrecoverable): an episode open at
   census Y's reference date is left out of census Y+1 (its Child too if nothing is left).
   Eligible: episodes open at the end of Y (Y before the last year), in census Y+1 and in
   no later census, so that it really disappears rather than leaving a one-year hole.
10. ``closure_removed_before_new_referral`` (earlier one closed at the later referral;
    unrecoverable): CINclosureDate and ReasonForClosure removed from a closed CINdetails that
    is followed by another CINdetails of the same child in the same file. Eligible: such
    consecutive pairs, per file.

Manifest rows (:class:`model.synth.faults.FaultLog`): one per changed file, table ``cin``,
``year`` the census year of the file, ``child`` the true LAchildID, ``decom`` the true
CINreferralDate of the episode ("" for kinds 1 and 8, which concern the child), ``detail``
the element and the change.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
from lxml import etree

from model.ingest.safe_xml import safe_parser
from model.synth.draws import Draws
from model.synth.faults import FaultLog
from model.synth.records import SimulatedAuthority
from model.synth.truth_config import FaultRates

TABLE = "cin"
MODULE_TAGS = {
    "Assessments": "AssessmentActualStartDate",
    "Section47": "S47ActualStartDate",
    "ChildProtectionPlans": "CPPstartDate",
}
"""Repeatable CINdetails modules that ``duplicate_module`` copies, and their start element."""
UNKNOWN_REFERRAL_SOURCE = "99"
# The writer's declaration (double quotes, as LA systems write it): kept so that rewriting
# an unchanged tree gives back the same bytes.
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

EpisodeKey = tuple[str, str]
"""(true LAchildID, CINreferralDate): one CIN episode, across census files."""


@dataclass
class _Census:
    """One parsed census file. ``children`` maps the *original* LAchildID to its Child
    element, built before any change, so later kinds still find a child whose id changed."""

    year: int
    path: Path
    root: etree._Element
    reference_date: date
    children: dict[str, etree._Element]
    changed: bool = False


@dataclass
class _Injector:
    """The state shared by the fault kinds: files, draws, manifest and the children taken."""

    censuses: dict[int, _Census]
    rates: FaultRates
    draws: Draws
    log: FaultLog
    taken: set[str] = field(default_factory=set)

    def chosen(self, rate: float, child: str) -> bool:
        """Draw for one eligible item; True if it gets the fault and its child is free."""
        hit = self.draws.random() < rate
        return hit and child not in self.taken

    def record(
        self, fault: str, census: _Census, child: str, decom: str, detail: str, ok: bool
    ) -> None:
        """Mark the file changed, the child taken, and add the manifest row."""
        census.changed = True
        self.taken.add(child)
        self.log.add(fault, census.year, TABLE, child, decom, detail, recoverable=ok)


def inject_cin_faults(
    auth: SimulatedAuthority,
    paths: dict[int, Path],
    rates: FaultRates,
    rng: np.random.Generator,
    log: FaultLog,
) -> None:
    """Inject CIN faults into the census files ``paths`` (year -> written file) in place and
    append their manifest rows to ``log``. Children already named in ``log`` (903 faults)
    are left alone. Only changed files are rewritten."""
    censuses = {year: _parse(year, path) for year, path in sorted(paths.items())}
    injector = _Injector(censuses, rates, Draws(rng), log)
    injector.taken.update(row[3] for row in log.rows if row[3])
    _cin_id_changed(auth, injector)
    _assessment_before_referral(injector)
    _duplicate_module(injector)
    _unknown_referral_source(injector)
    _closure_reason_missing(injector)
    _closure_before_referral(injector)
    _referral_after_census(injector)
    _missing_lachildid(injector)
    _open_episode_dropped(injector)
    _closure_removed_before_new_referral(injector)
    for census in censuses.values():
        if census.changed:
            data = DECLARATION + etree.tostring(census.root, encoding="UTF-8", pretty_print=True)
            census.path.write_bytes(data)


def _parse(year: int, path: Path) -> _Census:
    """Parse one written census; blank text is dropped so pretty-printing restores it."""
    root = etree.fromstring(Path(path).read_bytes(), safe_parser(remove_blank_text=True))
    reference = date.fromisoformat(root.findtext("Header/CollectionDetails/ReferenceDate"))
    children = {child.findtext("ChildIdentifiers/LAchildID"): child for child in root.iter("Child")}
    return _Census(year, Path(path), root, reference, children)


def _iso(day: date) -> str:
    return day.isoformat()


def _days_before(iso: str, days: int) -> str:
    return _iso(date.fromisoformat(iso) - timedelta(days=days))


def _details(censuses: dict[int, _Census]) -> Iterator[tuple[_Census, str, etree._Element]]:
    """Every (census, child, CINdetails), files by year, elements in document order."""
    for census in censuses.values():
        for child, element in census.children.items():
            for det in element.iterfind("CINdetails"):
                yield census, child, det


def _episodes(
    censuses: dict[int, _Census],
) -> dict[EpisodeKey, list[tuple[_Census, etree._Element]]]:
    """Each CIN episode's CINdetails elements in the files holding it, earliest file first
    (dicts keep insertion order, so iteration follows first appearance)."""
    out: dict[EpisodeKey, list[tuple[_Census, etree._Element]]] = defaultdict(list)
    for census, child, det in _details(censuses):
        out[(child, det.findtext("CINreferralDate"))].append((census, det))
    return out


def _cin_id_changed(auth: SimulatedAuthority, inj: _Injector) -> None:
    """Kind 1: a new LAchildID in every census, for children the 903 can be linked by UPN."""
    in_care = set(auth.episodes["child_id"].tolist())
    children = auth.children.drop_duplicates("child_id", keep="first")
    upns = dict(
        zip(children["child_id"].tolist(), children["upn"].fillna("").tolist(), strict=True)
    )
    every_id = set(upns)
    for census in inj.censuses.values():
        every_id.update(census.children)
    for child, upn in upns.items():
        files = [c for c in inj.censuses.values() if child in c.children]
        if len(upn) != 13 or child not in in_care or not files:
            continue
        if not inj.chosen(inj.rates.cin_id_changed, child):
            continue
        new_id = child + "C"
        while new_id in every_id:  # never collide with another child's id
            new_id += "C"
        every_id.add(new_id)
        for census in files:
            census.children[child].find("ChildIdentifiers/LAchildID").text = new_id
            detail = f"LAchildID {child} written as {new_id}"
            inj.record("cin_id_changed", census, child, "", detail, ok=True)


def _assessment_before_referral(inj: _Injector) -> None:
    """Kind 2: an assessment starting 1-30 days before its referral, in every file."""
    found: dict[tuple[str, str, str], list[tuple[_Census, etree._Element]]] = defaultdict(list)
    for census, child, det in _details(inj.censuses):
        referral = det.findtext("CINreferralDate")
        for assessment in det.iterfind("Assessments"):
            start = assessment.findtext("AssessmentActualStartDate")
            found[(child, referral, start)].append((census, assessment))
    for (child, referral, start), places in found.items():
        years = [census.year for census, _ in places]
        if len(set(years)) != len(years):  # two assessments alike in one file: ambiguous
            continue
        if not inj.chosen(inj.rates.assessment_before_referral, child):
            continue
        new_start = _days_before(referral, inj.draws.integers(1, 31))
        for census, assessment in places:
            assessment.find("AssessmentActualStartDate").text = new_start
            detail = f"AssessmentActualStartDate {start} written as {new_start}"
            inj.record("assessment_before_referral", census, child, referral, detail, ok=True)


def _duplicate_module(inj: _Injector) -> None:
    """Kind 3: one Assessments, Section47 or ChildProtectionPlans element written twice."""
    for census, child, det in _details(inj.censuses):
        referral = det.findtext("CINreferralDate")
        # A list: the copy inserted below must not become an eligible item itself.
        for module in [m for m in det if m.tag in MODULE_TAGS]:
            if not inj.chosen(inj.rates.duplicate_module, child):
                continue
            module.addnext(copy.deepcopy(module))
            start = module.findtext(MODULE_TAGS[module.tag])
            detail = f"{module.tag} starting {start} duplicated"
            inj.record("duplicate_module", census, child, referral, detail, ok=True)


def _unknown_referral_source(inj: _Injector) -> None:
    """Kind 4: ReferralSource "99" (no such code) in one file."""
    for census, child, det in _details(inj.censuses):
        if not inj.chosen(inj.rates.unknown_referral_source, child):
            continue
        source = det.find("ReferralSource")
        detail = f"ReferralSource {source.text} written as {UNKNOWN_REFERRAL_SOURCE}"
        source.text = UNKNOWN_REFERRAL_SOURCE
        referral = det.findtext("CINreferralDate")
        inj.record("unknown_referral_source", census, child, referral, detail, ok=True)


def _closure_reason_missing(inj: _Injector) -> None:
    """Kind 5: a closure without its ReasonForClosure."""
    for census, child, det in _details(inj.censuses):
        reason = det.find("ReasonForClosure")
        if reason is None or not inj.chosen(inj.rates.closure_reason_missing, child):
            continue
        det.remove(reason)
        detail = f"ReasonForClosure {reason.text} removed"
        referral = det.findtext("CINreferralDate")
        inj.record("closure_reason_missing", census, child, referral, detail, ok=False)


def _closure_before_referral(inj: _Injector) -> None:
    """Kind 6: CINclosureDate 1-60 days before the referral, in every file with the closure."""
    for (child, referral), places in _episodes(inj.censuses).items():
        closed = [(c, d) for c, d in places if d.find("CINclosureDate") is not None]
        if not closed or not inj.chosen(inj.rates.closure_before_referral, child):
            continue
        new_closure = _days_before(referral, inj.draws.integers(1, 61))
        for census, det in closed:
            closure = det.find("CINclosureDate")
            detail = f"CINclosureDate {closure.text} written as {new_closure}"
            closure.text = new_closure
            inj.record("closure_before_referral", census, child, referral, detail, ok=False)


def _next_year(iso: str) -> str | None:
    """The same day a year later, or None for 29 February (no such day)."""
    day = date.fromisoformat(iso)
    if (day.month, day.day) == (2, 29):
        return None
    return _iso(day.replace(year=day.year + 1))


def _referral_after_census(inj: _Injector) -> None:
    """Kind 7: CINreferralDate typed a year late, landing after the file's ReferenceDate."""
    for census, child, det in _details(inj.censuses):
        referral = det.findtext("CINreferralDate")
        typo = _next_year(referral)
        if typo is None or typo <= _iso(census.reference_date):  # ISO strings sort as dates
            continue
        if not inj.chosen(inj.rates.referral_after_census, child):
            continue
        det.find("CINreferralDate").text = typo
        detail = f"CINreferralDate {referral} written as {typo}"
        inj.record("referral_after_census", census, child, referral, detail, ok=False)


def _missing_lachildid(inj: _Injector) -> None:
    """Kind 8: a Child without its LAchildID element in one file."""
    for census in inj.censuses.values():
        for child, element in census.children.items():
            if not inj.chosen(inj.rates.missing_lachildid, child):
                continue
            identifiers = element.find("ChildIdentifiers")
            identifiers.remove(identifiers.find("LAchildID"))
            inj.record("missing_lachildid", census, child, "", "LAchildID removed", ok=False)


def _open_episode_dropped(inj: _Injector) -> None:
    """Kind 9: an episode open at census Y's reference date missing from census Y+1."""
    for (child, referral), places in _episodes(inj.censuses).items():
        by_year = {census.year: det for census, det in places}
        # Y+1 is the episode's last census: dropping it there makes it vanish, rather than
        # leave a one-year hole before it reappears.
        last = max(by_year)
        open_before = by_year.get(last - 1)
        if open_before is None or open_before.find("CINclosureDate") is not None:
            continue
        if not inj.chosen(inj.rates.open_episode_dropped, child):
            continue
        census = inj.censuses[last]
        element = census.children[child]
        alone = len(element.findall("CINdetails")) == 1
        children_el = element.getparent()
        if alone and len(children_el) == 1:
            continue  # the XSD needs one Child per file: leave the episode in
        element.remove(by_year[last])
        detail = f"CINdetails open at the {last - 1} census left out"
        if alone:
            children_el.remove(element)
            detail += " (and its Child, which had no other CINdetails)"
        inj.record("open_episode_dropped", census, child, referral, detail, ok=False)


def _closure_removed_before_new_referral(inj: _Injector) -> None:
    """Kind 10: the closure of an episode followed by a new referral removed (two open)."""
    for census in inj.censuses.values():
        for child, element in census.children.items():
            details = element.findall("CINdetails")
            for earlier, later in pairwise(details):
                closure = earlier.find("CINclosureDate")
                if closure is None:
                    continue
                if not inj.chosen(inj.rates.closure_removed_before_new_referral, child):
                    continue
                reason = earlier.find("ReasonForClosure")
                detail = (
                    f"CINclosureDate {closure.text} and ReasonForClosure "
                    f"{reason.text if reason is not None else ''} removed; next CINreferralDate "
                    f"{later.findtext('CINreferralDate')}"
                )
                earlier.remove(closure)
                if reason is not None:
                    earlier.remove(reason)
                referral = earlier.findtext("CINreferralDate")
                fault = "closure_removed_before_new_referral"
                inj.record(fault, census, child, referral, detail, ok=False)
                break  # one pair per child and file: the child is now taken anyway
