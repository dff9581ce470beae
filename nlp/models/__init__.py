"""Model artifacts shipped with the code (small heads; see each meta.json)."""
