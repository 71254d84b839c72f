"""virt_client package."""
