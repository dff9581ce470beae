"""Seeded demo data: `generate()` builds the dataset, `load` puts it into the raw tables."""

from feedbackloop.demo.generator import DemoDataset, generate, pii_samples

__all__ = ["DemoDataset", "generate", "pii_samples"]
