"""Presidio's six pattern recognizers for `pii_bench.py`, in-process or as a worker process.

    .venv-presidio/bin/python benchmarks/presidio_worker.py [--threshold X] [--entities A,B]

Presidio lives in a venv of its own (`make bench` builds `.venv-presidio`): installed next to
feedbackloop it registers a spaCy factory entry point, and spaCy imports every one of those when
a pipeline is created, so every pipeline process would import presidio and transformers.

Protocol: the worker first writes one JSON line, ``{"engine": "<description>"}`` (or
``{"error": "..."}`` and exits 1). Then for each JSON line on stdin (a JSON string: one text)
it writes one line ``{"spans": [[type, start, end], ...], "cpu_s": seconds}``, where ``cpu_s``
is this process's ``time.process_time()`` spent analysing that text, so the benchmark reports
texts per CPU second of Presidio itself, not of the pipe. Standard library and presidio only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence

Span = tuple[str, int, int]

# The types of the six recognizers below (the same names as nlp.pii.PATTERN_TYPES).
DEFAULT_ENTITIES = (
    "CREDIT_CARD",
    "US_SSN",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "IBAN_CODE",
    "IP_ADDRESS",
)


def build_analyzer(
    threshold: float | None, entities: Sequence[str] = DEFAULT_ENTITIES
) -> tuple[Callable[[str], list[Span]], str]:
    """Presidio AnalyzerEngine with only the six pattern recognizers, fully offline.

    Raises ImportError when presidio-analyzer is not installed in this interpreter."""
    import presidio_analyzer

    # tldextract (used by EmailRecognizer) would fetch the public suffix list over the
    # network on first use: point it at no URL and no cache, i.e. its bundled snapshot.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    import tldextract
    import tldextract.tldextract as tld_module

    tld_module.TLD_EXTRACTOR = tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True
    )

    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    try:  # presidio >= 2.2.36x ships a no-op engine: no spaCy model needed at all.
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        engine_name = "NoOpNlpEngine"
    except ImportError:  # older releases: a blank spaCy pipeline (tokenizer only)
        import spacy
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
        nlp_engine.nlp = {"en": spacy.blank("en")}
        engine_name = "SpacyNlpEngine(spacy.blank('en'))"

    registry = RecognizerRegistry(supported_languages=["en"])
    for cls in (
        CreditCardRecognizer,
        UsSsnRecognizer,
        EmailRecognizer,
        PhoneRecognizer,
        IbanRecognizer,
        IpRecognizer,
    ):
        registry.add_recognizer(cls())
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
    wanted = list(entities)

    def run(text: str) -> list[Span]:
        results = analyzer.analyze(
            text=text, language="en", entities=wanted, score_threshold=threshold
        )
        return [(res.entity_type, res.start, res.end) for res in results]

    version = getattr(presidio_analyzer, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("presidio-analyzer")
    return run, f"presidio-analyzer {version}, {engine_name}, threshold={threshold}"


def _answer(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--entities", default=",".join(DEFAULT_ENTITIES))
    args = ap.parse_args(argv)
    try:
        run, description = build_analyzer(args.threshold, args.entities.split(","))
    except ImportError as exc:
        _answer({"error": f"presidio-analyzer is not importable in {sys.executable}: {exc}"})
        return 1
    _answer({"engine": description})
    for line in sys.stdin:
        text = json.loads(line)
        start = time.process_time()
        spans = run(text)
        cpu_s = time.process_time() - start
        _answer({"spans": spans, "cpu_s": cpu_s})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
