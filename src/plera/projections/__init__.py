"""Read models: one module per projection, each with its tables, handlers and queries."""
