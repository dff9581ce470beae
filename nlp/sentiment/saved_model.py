"""A sentiment model saved as a directory of two files: ``meta.json`` and an ``.npz`` of arrays.

Both kinds, the encoder head (``nlp.sentiment.encoder_head``) and the adapted rule-feature
model (``nlp.training``), load the same way; the bytes are kept as read, so
nlp.to_disk/to_bytes saves them unchanged.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

META = "meta.json"


def read_files(path: Path, names: Iterable[str]) -> dict[str, bytes]:
    return {n: (path / n).read_bytes() for n in names}


def read_meta(files: Mapping[str, bytes]) -> dict[str, Any]:
    return json.loads(files[META].decode("utf-8"))


class SavedModel:
    ARRAYS: ClassVar[str]  # the .npz file next to meta.json
    DESCRIPTION: ClassVar[str]  # what a refusal calls it

    def __init__(self, meta: dict[str, Any], files: dict[str, bytes] | None) -> None:
        self.meta = meta
        self.version = str(meta["version"])
        self.files = files or {}  # as read: nlp.to_disk/to_bytes saves them unchanged

    @classmethod
    def load(cls, path: Path) -> Self:
        return cls.from_files(read_files(path, (META, cls.ARRAYS)), str(path))

    @classmethod
    def from_files(cls, files: dict[str, bytes], where: str = "") -> Self:
        meta = read_meta(files)
        if not cls.readable(meta):
            raise ValueError(f"unsupported {cls.DESCRIPTION} in {where}")
        return cls.from_arrays(np.load(io.BytesIO(files[cls.ARRAYS])), meta, files)

    @classmethod
    def readable(cls, meta: Mapping[str, Any]) -> bool:
        """Whether this class reads what `meta` describes (its kind and format version)."""
        raise NotImplementedError

    @classmethod
    def from_arrays(cls, arrays: Any, meta: dict[str, Any], files: dict[str, bytes]) -> Self:
        raise NotImplementedError
