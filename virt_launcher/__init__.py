"""virt_launcher package."""
