"""Sentence encoders shared by the NLP components (imported lazily: optional extras)."""
