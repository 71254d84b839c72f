"""virt_controller package."""
