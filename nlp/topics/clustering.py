"""Incremental, stable clustering of unit vectors with explicit outliers.

One algorithm serves a CSV clustered at once and a database clustered run after run:

1. every item whose nearest existing centroid is at least ``attach_similarity`` (cosine) away
   joins that cluster;
2. the items left over are clustered among themselves by average-linkage agglomeration
   (groups whose mean pairwise cosine is at least ``merge_similarity``); a group that holds two
   or more groups of ``min_members`` at the tighter ``split_similarity`` is split into them
   (a mixed group becomes pure parts, its loose rest stays out); groups of at least
   ``min_members`` become new clusters with the next free ids, and leftovers close enough to
   one of them join it;
3. whatever is still left is an outlier (``-1``): it is never forced into a cluster, and it
   is pooled with the next chunk (the next run, in the database) so that a topic that grows
   slowly still gets its cluster.

Existing clusters never move or merge and ids are never reused, so ids are stable between
runs. Average linkage needs the pairwise distances of one chunk in memory (O(batch^2)), so
large inputs go through in chunks of ``batch`` items, exactly as later runs would add them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

OUTLIER = -1


@dataclass(frozen=True)
class ClusterParams:
    """One set of defaults per encoder (cosine scales differ between vector spaces), never per
    data set. Similarities are mean cosines to a group's members (average linkage), for
    forming a cluster and for joining one alike."""

    merge_similarity: float
    attach_similarity: float
    min_members: int = 5
    batch: int = 8000
    split_similarity: float | None = None  # cohesion check of each new group (None: off)

    def __post_init__(self) -> None:
        if not (0 < self.merge_similarity < 1 and 0 < self.attach_similarity < 1):
            raise ValueError("similarities must be between 0 and 1")
        if self.split_similarity is not None and not (
            self.merge_similarity < self.split_similarity < 1
        ):
            raise ValueError("split_similarity must be between merge_similarity and 1")
        if self.min_members < 2 or self.batch < self.min_members:
            raise ValueError("min_members must be >= 2 and batch >= min_members")


# Tuned on half of the intents of CLINC150 and of Bitext, reported on the other half
# (benchmarks/topics_bench.py, docs/decisions.md). light: a loose merge finds the intents (NMI),
# the split at 0.5 keeps neighbouring ones ("track" / "change order") out of one candidate.
DEFAULT_PARAMS: dict[str, ClusterParams] = {
    # Chunks of 4,000 for the default encoder: average linkage holds two float64 copies of a
    # chunk's pair distances, 128 MB at 4,000 against 512 MB at 8,000 (issue #20's memory
    # goal); on the shared intent sets candidate purity -0.01, recall +0.07 (docs/decisions.md).
    "light": ClusterParams(
        merge_similarity=0.3, attach_similarity=0.3, split_similarity=0.5, batch=4000
    ),
    # minilm retuned on the tune halves (docs/decisions.md): merging and joining looser
    # finds more of each intent (NMI +0.04-0.08); chunks of 4,000 as light's (memory).
    "minilm": ClusterParams(merge_similarity=0.45, attach_similarity=0.35, batch=4000),
}


def average_linkage(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average-linkage merges of the rows of ``z`` (unit vectors) on cosine distance, as
    (row a, row b, distance) with the merged cluster living on in row b, in the order the
    nearest-neighbour chain finds them (Müllner's algorithm, as scipy's ``linkage``; the
    same tree, ties going to the chain's previous link as there).

    Works on one square float32 matrix of distances, updated in place: n^2 x 4 bytes (64 MB
    at 4,000 rows), where scipy takes a float64 condensed vector and copies it (128 MB)."""
    return _linkage(cosine_distances(z))


def cosine_distances(z: np.ndarray) -> np.ndarray:
    """The square float32 matrix `average_linkage` works on (and overwrites)."""
    z = np.asarray(z, dtype=np.float32)
    if not np.isfinite(z).all():  # a NaN distance would never close the chain
        raise ValueError("vectors must be finite")
    d = z @ z.T
    np.subtract(1.0, d, out=d)
    np.clip(d, 0.0, 2.0, out=d)
    np.fill_diagonal(d, np.inf)  # a row's own and merged-away entries are never a nearest
    return d


def _linkage(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`average_linkage` on the matrix of `cosine_distances`, which it consumes."""
    n = len(d)
    size = np.ones(n, dtype=np.float32)
    rows_a = np.empty(max(n - 1, 0), dtype=np.int64)
    rows_b = np.empty(max(n - 1, 0), dtype=np.int64)
    heights = np.empty(max(n - 1, 0), dtype=np.float64)
    chain: list[int] = []
    for k in range(n - 1):
        if not chain:
            chain.append(int(np.flatnonzero(size > 0)[0]))
        while True:  # follow nearest neighbours until two rows are each other's
            x = chain[-1]
            y = int(d[x].argmin())
            if len(chain) > 1 and d[x, chain[-2]] <= d[x, y]:
                break
            chain.append(y)
        y = chain[-2]
        del chain[-2:]
        rows_a[k], rows_b[k], heights[k] = x, y, d[x, y]
        merged = (d[x] * size[x] + d[y] * size[y]) / (size[x] + size[y])  # Lance-Williams
        merged[y] = np.inf
        d[y, :] = merged
        d[:, y] = merged
        d[x, :] = np.inf
        d[:, x] = np.inf
        size[y] += size[x]
        size[x] = 0
    return rows_a, rows_b, heights


def cut_merges(
    n: int, merges: tuple[np.ndarray, np.ndarray, np.ndarray], height: float
) -> np.ndarray:
    """Flat clusters (ids 1..) of the tree cut at ``height``: the merges at or below it
    (average linkage is monotone, so none of them joins a cluster merged above it)."""
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for a, b, h in zip(*(m.tolist() for m in merges), strict=True):
        if h <= height:
            parent[root(a)] = root(b)
    return np.array([root(i) for i in range(n)], dtype=np.int64) + 1


def agglomerate(
    z: np.ndarray,
    merge_similarity: float,
    min_members: int,
    split_similarity: float | None = None,
) -> np.ndarray:
    """Average-linkage groups of rows (cosine), numbered 0.. in order of their first row;
    rows in groups smaller than ``min_members`` get -1. With ``split_similarity``, a group
    holding two or more subgroups of ``min_members`` at that tighter cut of the same tree is
    replaced by those subgroups (its other rows get -1): a cluster mixing two intents splits."""
    if len(z) < min_members:
        return np.full(len(z), OUTLIER, dtype=np.int64)
    return _groups(cosine_distances(z), merge_similarity, min_members, split_similarity)


def _groups(
    d: np.ndarray, merge_similarity: float, min_members: int, split_similarity: float | None
) -> np.ndarray:
    """`agglomerate` on the matrix of `cosine_distances` of at least `min_members` rows (the
    callers check that before building it), which it consumes."""
    n = len(d)
    merges = _linkage(d)
    raw = cut_merges(n, merges, 1.0 - merge_similarity)
    if split_similarity is not None:
        tight = cut_merges(n, merges, 1.0 - split_similarity)
        # the tight cut nests in the loose one (same tree): a subgroup lies in one group
        pair = raw * (n + 1) + tight
        pairs, pair_of, pair_sizes = np.unique(pair, return_inverse=True, return_counts=True)
        big = pair_sizes >= min_members
        group_of_pair = pairs // (n + 1)
        big_per_group = np.bincount(group_of_pair[big], minlength=int(raw.max()) + 1)
        split = big_per_group[raw] >= 2
        # rows of a split group: their subgroup when it is big, else left out (0)
        raw = np.where(split, np.where(big[pair_of], pair, 0), raw * (n + 1))
    values, first, inverse, counts = np.unique(
        raw, return_index=True, return_inverse=True, return_counts=True
    )
    # the cut's numbering follows the tree; renumber by first row so output is order-stable
    order = np.argsort(first, kind="stable")
    kept = order[(counts[order] >= min_members) & (values[order] != 0)]
    new_id = np.full(len(first), OUTLIER, dtype=np.int64)
    new_id[kept] = np.arange(len(kept))
    return new_id[inverse]


@dataclass
class Centroids:
    """Running sums of each cluster's member vectors: a centroid is the normalised sum, so
    adding members is exact and order-free."""

    dim: int
    ids: list[int] = field(default_factory=list)
    sums: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        if self.sums.shape != (len(self.ids), self.dim):
            self.sums = np.zeros((len(self.ids), self.dim))
        self._pos = {cid: i for i, cid in enumerate(self.ids)}
        self._matrix: np.ndarray | None = None
        self._means: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, cid: int) -> bool:
        return cid in self._pos

    def add(self, cid: int, vectors: np.ndarray) -> None:
        i = self._pos.get(cid)
        if i is None:
            i = self._pos[cid] = len(self.ids)
            self.ids.append(cid)
            self.sums = np.vstack([self.sums, np.zeros((1, self.dim))])
            self.counts = np.append(self.counts, 0)
        self.sums[i] += vectors.sum(axis=0, dtype=np.float64)
        self.counts[i] += len(vectors)
        self._matrix = None
        self._means = None

    def put(self, cid: int, total: np.ndarray, count: int) -> None:
        """Add a cluster from a cached member sum and count."""
        self.add(cid, np.zeros((0, self.dim), dtype=np.float32))
        i = self._pos[cid]
        self.sums[i] = total
        self.counts[i] = count

    def set(self, cid: int, vectors: np.ndarray) -> None:
        """Replace a cluster's members (rebuilt from the database)."""
        i = self._pos.get(cid)
        if i is not None:
            self.sums[i] = 0.0
            self.counts[i] = 0
        self.add(cid, vectors)

    def matrix(self) -> np.ndarray:
        """Unit centroids (one row per id)."""
        if self._matrix is None:
            m = self.sums.astype(np.float32)
            norms = np.linalg.norm(m, axis=1, keepdims=True)
            np.divide(m, norms, out=m, where=norms > 0)
            self._matrix = m
        return self._matrix

    def means(self) -> np.ndarray:
        """Member means (one row per id): ``z @ means.T`` is each row's mean cosine to the
        members, the same quantity average linkage merges on."""
        if self._means is None:
            self._means = (self.sums / np.maximum(self.counts, 1)[:, None]).astype(np.float32)
        return self._means

    def nearest(
        self, z: np.ndarray, among: list[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(cluster id, mean cosine to its members) of each row's nearest cluster; ties go to
        the older id. Mean similarity, not cosine to the centroid: the latter is about the
        square root of the former, so joining would be far looser than forming a cluster."""
        if not self.ids or not len(z):
            return np.full(len(z), OUTLIER), np.zeros(len(z), dtype=np.float32)
        positions = (
            np.arange(len(self.ids))
            if among is None
            else np.array([self._pos[c] for c in among], dtype=np.int64)
        )
        sims = z @ self.means()[positions].T
        best = sims.argmax(axis=1)  # first maximum: ids were added oldest first
        ids = np.asarray(self.ids, dtype=np.int64)[positions][best]
        return ids, sims[np.arange(len(z)), best]

    def centroid_similarity(self, cid: int, z: np.ndarray) -> np.ndarray:
        return z @ self.matrix()[self._pos[cid]]


@dataclass
class IncrementalResult:
    labels: np.ndarray  # cluster id per row, -1 for outliers
    new_ids: list[int]
    attached: int  # rows that joined a cluster that existed before this call
    in_new: int  # rows in clusters created by this call

    @property
    def outliers(self) -> int:
        return int((self.labels == OUTLIER).sum())


def _chunks(n: int, size: int) -> Iterator[np.ndarray]:
    for start in range(0, n, size):
        yield np.arange(start, min(n, start + size))


def _attach(
    z: np.ndarray,
    idx: np.ndarray,
    centroids: Centroids,
    labels: np.ndarray,
    threshold: float,
    among: list[int] | None = None,
) -> np.ndarray:
    """Give rows of ``idx`` near enough a centroid that cluster; return the rest."""
    if not len(idx) or not len(centroids) or (among is not None and not among):
        return idx
    whole = len(idx) == len(z)  # idx is sorted and unique: every row, no copy needed
    ids, sims = centroids.nearest(z if whole else z[idx], among)
    ok = sims >= threshold
    joined = idx[ok]
    labels[joined] = ids[ok]
    for cid in np.unique(ids[ok]):
        centroids.add(int(cid), z[joined[ids[ok] == cid]])
    return idx[~ok]


class RowSource(Protocol):
    """Vectors read by row number (a file of encoded rows): `cluster_incremental` reads one
    chunk and the rows it carries over at a time."""

    def __len__(self) -> int: ...

    def take(self, rows: np.ndarray) -> np.ndarray: ...


class VectorFile:
    """Float32 rows appended to an unnamed temporary file (unlinked at once, so nothing is
    left behind by a crash) and read back by row number: a pool of vectors too large to hold
    costs disk, not memory. The rows are vectors, never text."""

    def __init__(self, dim: int, directory: str | os.PathLike[str] | None = None) -> None:
        self.dim = dim
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed by close)
        self._rows = 0
        self._row_bytes = dim * 4

    def __len__(self) -> int:
        return self._rows

    def __enter__(self) -> VectorFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def append(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[1:] != (self.dim,):
            raise ValueError(f"rows of {self.dim} values expected, got {vectors.shape}")
        self._file.seek(0, os.SEEK_END)
        self._file.write(vectors.tobytes())
        self._rows += len(vectors)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The rows ``rows`` (in that order); consecutive row numbers are read at once."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        if not len(rows):
            return out
        if rows.min() < 0 or rows.max() >= self._rows:
            raise IndexError("row number out of range")
        self._file.flush()
        fd = self._file.fileno()
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        for run_start, run_stop in zip(
            np.r_[0, breaks].tolist(), np.r_[breaks, len(rows)].tolist(), strict=True
        ):
            first, count = int(rows[run_start]), run_stop - run_start
            data = os.pread(fd, count * self._row_bytes, first * self._row_bytes)
            out[run_start:run_stop] = np.frombuffer(data, dtype=np.float32).reshape(count, -1)
        return out


def cluster_incremental(
    z: np.ndarray | RowSource,
    centroids: Centroids,
    params: ClusterParams,
    next_id: int,
    *,
    pending: np.ndarray | None = None,
) -> IncrementalResult:
    """Assign rows of ``z`` (unit vectors) to ``centroids`` or to new clusters (ids from
    ``next_id`` up), updating ``centroids`` in place; the rest are -1.

    ``z`` is an array or a `RowSource`: only the rows of one chunk (plus the rows carried
    over, at most ``batch / 2``, and ``pending`` in the first) are read at a time, so the
    result is the same either way and memory stays at a chunk's.
    ``pending``: rows to treat as earlier outliers, pooled with the first chunk."""
    n = len(z)
    take = z.__getitem__ if isinstance(z, np.ndarray) else z.take
    labels = np.full(n, OUTLIER, dtype=np.int64)
    existing = set(centroids.ids)
    new_ids: list[int] = []
    pool = np.asarray(pending if pending is not None else [], dtype=np.int64)
    fresh = np.setdiff1d(np.arange(n), pool, assume_unique=False)
    for chunk in _chunks(len(fresh), params.batch) if len(fresh) else iter([np.arange(0)]):
        idx = np.concatenate([pool, fresh[chunk]])
        # this chunk's rows, addressed by position in `idx` below
        zi = take(idx)
        local = np.full(len(idx), OUTLIER, dtype=np.int64)
        rest = _attach(zi, np.arange(len(idx)), centroids, local, params.attach_similarity)
        # the pool is capped so one agglomeration never exceeds `batch` rows
        head = rest[: params.batch]
        # Only the distances are held through the linkage (its peak): the chunk's vectors are
        # dropped and read again after it (the same rows, so the same result).
        if len(head) >= params.min_members:
            zh = zi[head]
            del zi
            d = cosine_distances(zh)
            del zh
            groups = _groups(
                d, params.merge_similarity, params.min_members, params.split_similarity
            )
            del d
            zi = take(idx)
        else:
            groups = np.full(len(head), OUTLIER, dtype=np.int64)
        created: list[int] = []
        for g in range(int(groups.max(initial=-1)) + 1):
            members = head[groups == g]
            local[members] = next_id
            centroids.add(next_id, zi[members])
            created.append(next_id)
            next_id += 1
        new_ids += created
        rest = rest[local[rest] == OUTLIER]
        rest = _attach(zi, rest, centroids, local, params.attach_similarity, among=created)
        labels[idx] = local
        pool = idx[rest[-(params.batch // 2) :]]
    attached = int(np.isin(labels, list(existing)).sum()) if existing else 0
    in_new = int(np.isin(labels, new_ids).sum()) if new_ids else 0
    return IncrementalResult(labels=labels, new_ids=new_ids, attached=attached, in_new=in_new)


def candidates(labels: np.ndarray, min_size: int) -> set[int]:
    """Cluster ids with at least ``min_size`` members (a cluster of exactly min_size is one)."""
    ids, counts = np.unique(labels[labels != OUTLIER], return_counts=True)
    return {int(c) for c, k in zip(ids, counts, strict=True) if k >= min_size}
