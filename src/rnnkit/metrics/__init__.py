"""Metrics and naive baselines for every task: accuracy, macro F1, confusion matrix and the
majority class for classification; token accuracy, per-tag F1 and the most frequent tag per word
for tagging; exact-match entity precision, recall and F1 and the memorisation baseline for
named entities; MAE, RMSE, MAPE, sMAPE and MASE for forecasting, beside the persistence and
seasonal-naive forecasts; a (modified) interpolated Kneser-Ney n-gram model as the baseline of language
models. Metrics take plain sequences or arrays and return Python floats.
"""

from rnnkit.metrics.classification import (
    MostFrequentTag,
    accuracy,
    confusion_matrix,
    macro_f1,
    majority_class,
    per_tag_f1,
    precision_recall_f1,
    token_accuracy,
)
from rnnkit.metrics.entities import Memoriser, entity_scores
from rnnkit.metrics.forecasting import (
    forecast_report,
    mae,
    mape,
    mase,
    persistence_forecast,
    rmse,
    seasonal_naive_forecast,
    smape,
)
from rnnkit.metrics.ngram import KneserNey
from rnnkit.metrics.report import Report

__all__ = [
    "KneserNey",
    "Memoriser",
    "MostFrequentTag",
    "Report",
    "accuracy",
    "confusion_matrix",
    "entity_scores",
    "forecast_report",
    "macro_f1",
    "mae",
    "majority_class",
    "mape",
    "mase",
    "per_tag_f1",
    "persistence_forecast",
    "precision_recall_f1",
    "rmse",
    "seasonal_naive_forecast",
    "smape",
    "token_accuracy",
]
