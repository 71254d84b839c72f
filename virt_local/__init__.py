"""virt_local package."""
