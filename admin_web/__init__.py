"""Admin site (Flask)."""
