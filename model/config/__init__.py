"""The workflow configuration: pydantic models of ``config/config.yaml``, their single
source of truth. Import each name from the module that defines it:

- ``carecast``: :class:`CarecastConfig`, the whole config (``seed``, ``authorities`` and
  one field per section);
- one module per section: ``paths``, ``demo``, ``categories``, ``fit`` (``structure``,
  ``priors``, ``sampler``, ``diagnostics``), ``published``, ``forecast``, ``costs``;
- ``fields``: the field types the sections share (strict, but whole numbers and
  true/false also from text, as Snakemake's ``--config`` gives them);
- ``load``: reading YAML and validating (``load_config``, ``validate_config``,
  ``read_config_yaml``);
- ``errors``: ``ConfigError`` and the one wording of validation errors, a plain line per
  problem naming the key as a dotted path;
- ``schema``: the JSON schema Snakemake validates against
  (``workflow/schemas/config.schema.json``, written by
  ``workflow/scripts/write_config_schema.py``; a test fails when the two drift apart);
- ``seeds``: ``derive_seed``, where every random seed in the pipeline comes from.
"""
