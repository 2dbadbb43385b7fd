"""Prefect flows, one per pipeline stage: thin orchestration over ``beyonder.stages``."""
