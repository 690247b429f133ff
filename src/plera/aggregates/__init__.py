"""The domain: aggregates with their rules and events. Pure: no I/O and no clock reads."""
