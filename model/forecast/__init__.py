"""Forecasts, scenarios, costs and back-tests from fitted posteriors."""
