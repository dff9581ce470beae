"""NLP for feedbackloop: PII masking and sentiment/frustration scoring on spaCy."""

from nlp.pipeline import load_pipeline

__all__ = ["load_pipeline"]
