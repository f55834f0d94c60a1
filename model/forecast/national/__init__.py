"""``carecast forecast`` of a national fit of published tables: every authority at once,
year by year (years ending 31 March), under the baseline and the scenarios.

The stage in four modules, as an authority's forecast is: ``inputs`` (the posterior and
the published figures -> per-draw rates, starting stocks and remainders), ``changes``
(scenarios -> the yearly model's changes), ``simulate`` (the yearly simulation of every
unit under every scenario) and ``run`` (:func:`forecast_national`: tables, draws, fan
charts). The yearly rates themselves are ``model.fit.published_rates``, which the fit's
predictive checks share.
"""

from model.forecast.national.run import forecast_national

__all__ = ["forecast_national"]
