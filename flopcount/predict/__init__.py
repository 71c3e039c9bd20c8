"""Latency prediction for eager PyTorch on CPU, from the analysis records alone (issue #12).

``calibrate()`` measures this machine's kernels by kind and writes a versioned profile; ``predict()``
turns a Report (made on ``meta``: no real forward) into a predicted latency per op and for the whole
model, naming the predictor used for each op. nn-Meter's recipe (MobiSys 2021) for a runtime that fuses
nothing: one kernel per recorded call, a fitted predictor per kernel kind, the model is the sum.
"""

from __future__ import annotations

from flopcount.predict.calibrate import DEFAULT_BUDGET_S, calibrate, refit, retime_kinds
from flopcount.predict.predictor import OpPrediction, Prediction, predict
from flopcount.predict.profile import EAGER_CPU, PredictProfile, list_profiles, load_profile, save_profile

__all__ = ["DEFAULT_BUDGET_S", "EAGER_CPU", "OpPrediction", "PredictProfile", "Prediction", "calibrate",
           "list_profiles", "refit", "load_profile", "predict", "retime_kinds", "save_profile"]
