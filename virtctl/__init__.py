"""virtctl package."""
