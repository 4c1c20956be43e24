"""Datasets, metrics, runner and reports for batch evaluation."""
