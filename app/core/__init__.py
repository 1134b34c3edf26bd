"""Domain-free shared code: clock, access rules, errors, database helpers, templating."""
