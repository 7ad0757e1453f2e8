"""loyalty."""
