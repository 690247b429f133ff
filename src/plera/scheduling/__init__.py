"""When messages may go out: the pure timing policy (windows, days, zones) and the worker that applies it."""
