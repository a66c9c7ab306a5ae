"""REST API over one simulation session."""
