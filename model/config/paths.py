"""The ``paths`` section of :class:`model.config.carecast.CarecastConfig`: where the
pipeline reads and writes."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from model.config.fields import LoosePath, OptionalPath


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
