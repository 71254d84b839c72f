"""virt_api package."""
