"""Metrics and naive baselines for every task (classification/tagging, forecasting)."""
