"""Messages: drafting a step's copy, and reading and rendering its templates for each lead."""
