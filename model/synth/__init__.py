"""Synthetic data generator: simulated children written as real-format returns."""

from model.synth.synthesize import synthesize

__all__ = ["synthesize"]
