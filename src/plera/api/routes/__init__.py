"""One router per resource. Handlers parse, call one command or query, and shape the answer."""
