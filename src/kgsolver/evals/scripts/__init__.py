"""Offline scripts that produce the evals' checked-in data; never imported by a suite at run time."""
