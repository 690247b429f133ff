"""Use cases: pydantic command models and the handlers that load, call and save aggregates."""
