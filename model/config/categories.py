"""The ``categories`` section of :class:`model.config.carecast.CarecastConfig`: how DfE
codes map to the model's categories, the one table the ingests use (defaults from
``model.codes``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from model.codes import (
    CARE_STATES,
    EXIT_REASONS,
    LEGAL_STATUS_GROUP,
    LEGAL_STATUS_GROUPS,
    NEW_EPISODE_REASON,
    PLACE_GROUP,
    REC_REASON,
)

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
