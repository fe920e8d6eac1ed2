"""Where task facts, clocks, journals and fault state live: memory, SQLite, Redis."""
