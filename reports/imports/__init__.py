"""Imports (issue 18): history from Plausible, Google Analytics 4, Umami and Trail's own raw
export, as jobs of the one data-job model (events/data_jobs.py). docs/imports.md."""
