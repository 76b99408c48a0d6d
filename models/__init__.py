"""SQLModel tables and the engine factory."""
