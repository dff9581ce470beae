"""Package data: lexicon files for nlp.sentiment (a package so setuptools ships them)."""
