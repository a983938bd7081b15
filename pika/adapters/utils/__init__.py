"""I/O helpers shared by the callback-style connection adapters."""
