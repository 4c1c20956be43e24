"""Ingest, retrieve, filter, generate and the agent."""
