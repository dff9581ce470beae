"""Topic clusters for consented feedback, assigned incrementally with stable ids.

Each run (``assign_topics``):

1. reads the keys of every item whose author allows improvement use, from the feedback-item
   contract (``feedbackloop.items``, the consent rule of ``fct_feedback``): tickets, reviews
   and notes (satisfaction ratings are not clustered, see ``items.TOPIC_ITEM_TYPES``), keyed
   like ``nlp.feedback_scores``; texts are looked up by key, a chunk at a time, where they are
   used (encoding, labels, outliers' topic keys), all in one snapshot;
2. drops the assignments of items that are no longer consented (or gone), so they leave their
   cluster, its size, its centroid and its examples;
3. puts every consented item without an assignment, and every earlier outlier, through
   ``nlp.topics.clustering.cluster_incremental``: nearest existing cluster when close enough,
   else a new cluster among themselves (ids = max + 1, never reused), else ``-1``;
4. writes assignments, cluster sizes, labels and key phrases, and one audit row, in one
   transaction.

Cluster centroids (member sums) and the corpus term statistics are a cache under
``STATE_DIR/topics/<database>/``: the database stays the truth. A cluster whose member count
differs from the cache (consent withdrawn, erasure, another machine ran last, cache lost) has
its centroid rebuilt from its members' text; another encoder version rebuilds them all. Runs
are serialised by a PostgreSQL advisory lock.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, text

from feedbackloop import items as items_contract
from feedbackloop import progress
from feedbackloop.config import Settings
from feedbackloop.db.models import Cluster, TopicAssignment
from feedbackloop.db.upsert import overwrite
from feedbackloop.governance import audit
from nlp.topics.clustering import (
    DEFAULT_PARAMS,
    OUTLIER,
    Centroids,
    ClusterParams,
    VectorFile,
    cluster_incremental,
)
from nlp.topics.encoders import MiniLMEncoder, TermStats, WordEncoder, make_encoder
from nlp.topics.labelling import item_topic_key, label_cluster, representative
from nlp.topics.text import lemmas, lemmatize
from nlp.topics.text import release as release_lemmas

ItemKey = items_contract.ItemKey

ACTOR = "topic-clustering"
LOCK_KEY = 0x746F706963  # "topic": one clustering run per database at a time
# Refit the vocabulary when the corpus has grown by a quarter since the last fit: words of a new
# topic are unknown to a frozen vocabulary, so its texts would look like old topics through
# their common words (tested). Geometric growth keeps refits (a re-encode of every member)
# logarithmic in the corpus size.
REFIT_GROWTH = 1.25
REFIT_CAP = 200_000  # past this many texts, a fit is representative enough: stop refitting
LABEL_SAMPLE = 5_000  # members read to label a cluster
EXAMPLES = 5
ENCODE_CHUNK = 2_000


@dataclass
class TopicReport:
    """What one run did. ``outlier_share`` is over every consented item with an assignment
    after the run; ``run_outlier_share`` over the items this run considered."""

    encoder: str
    items: int = 0
    considered: int = 0
    assigned_existing: int = 0
    new_clusters: list[int] = field(default_factory=list)
    in_new_clusters: int = 0
    outliers: int = 0
    withdrawn: int = 0
    clusters: int = 0
    candidates: int = 0
    outlier_share: float = 0.0
    refit: bool = False
    rebuilt: int = 0
    seconds: float = 0.0
    examples: dict[int, list[ItemKey]] = field(default_factory=dict)

    @property
    def run_outlier_share(self) -> float:
        return self.outliers / self.considered if self.considered else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["examples"] = {str(k): [list(x) for x in v] for k, v in self.examples.items()}
        out["run_outlier_share"] = self.run_outlier_share
        return out


# ------------------------------------------------------------------------------ consent


def public_reviews_are_consented(settings: Settings) -> bool:
    """The dbt var of the same name (dbt_project.yml); false when it cannot be read."""
    return items_contract.public_reviews_are_consented(settings.dbt_project_dir)


# ------------------------------------------------------------------------------ cache


@dataclass
class _State:
    fingerprint: str
    centroids: Centroids
    examples: dict[int, list[ItemKey]]
    example_vectors: dict[int, np.ndarray]


def _state_dir(engine: Engine, settings: Settings) -> Path:
    # one cache per database: tests (and people) point many databases at one state dir
    url = engine.url.render_as_string(hide_password=True)
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    path = settings.state_path / "topics" / key
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _load_terms(path: Path) -> TermStats | None:
    try:
        with np.load(path, allow_pickle=True) as arrays:
            return TermStats.from_arrays(arrays)
    except (OSError, ValueError, KeyError):
        return None


def _save_terms(path: Path, stats: TermStats) -> None:
    buf = io.BytesIO()
    np.savez(buf, **stats.to_arrays())
    _write_atomic(path, buf.getvalue())


def _load_state(path: Path, fingerprint: str, dim: int) -> _State:
    empty = _State(fingerprint, Centroids(dim=dim), {}, {})
    try:
        with np.load(path, allow_pickle=False) as arrays:
            meta = json.loads(str(arrays["meta"]))
            if meta.get("fingerprint") != fingerprint:
                return empty
            ids = [int(i) for i in arrays["ids"]]
            sums = np.asarray(arrays["sums"], dtype=np.float64)
            counts = np.asarray(arrays["counts"], dtype=np.int64)
            vectors = np.asarray(arrays["example_vectors"], dtype=np.float32)
    except (OSError, ValueError, KeyError):
        return empty
    if sums.shape != (len(ids), dim):
        return empty
    examples: dict[int, list[ItemKey]] = {}
    example_vectors: dict[int, np.ndarray] = {}
    offset = 0
    for cid, keys in meta.get("examples", []):
        n = len(keys)
        examples[int(cid)] = [tuple(k) for k in keys]  # type: ignore[misc]
        example_vectors[int(cid)] = vectors[offset : offset + n]
        offset += n
    return _State(
        fingerprint,
        Centroids(dim=dim, ids=ids, sums=sums, counts=counts),
        examples,
        example_vectors,
    )


def _save_state(path: Path, state: _State) -> None:
    c = state.centroids
    ordered = sorted(state.examples)
    vectors = [state.example_vectors[cid] for cid in ordered if len(state.examples[cid])]
    meta = {
        "fingerprint": state.fingerprint,
        "examples": [
            [cid, [list(k) for k in state.examples[cid]]]
            for cid in ordered
            if len(state.examples[cid])
        ],
    }
    buf = io.BytesIO()
    np.savez(
        buf,
        meta=np.asarray(json.dumps(meta)),
        ids=np.asarray(c.ids, dtype=np.int64),
        sums=c.sums,
        counts=c.counts,
        example_vectors=np.vstack(vectors) if vectors else np.zeros((0, c.dim), np.float32),
    )
    _write_atomic(path, buf.getvalue())


# ------------------------------------------------------------------------------ encoding


def _texts_in_chunks(conn: Connection, keys: list[ItemKey]) -> Iterator[list[str]]:
    """The texts of `keys`, looked up ENCODE_CHUNK at a time: a run holds one chunk's text."""
    for start in range(0, len(keys), ENCODE_CHUNK):
        yield items_contract.texts_by_key(conn, keys[start : start + ENCODE_CHUNK])


def _label_texts(
    conn: Connection,
    clusters: list[int],
    members: dict[int, list[ItemKey]],
    examples: dict[int, list[ItemKey]],
) -> Iterator[tuple[int, list[str], list[str]]]:
    """(cluster, its first LABEL_SAMPLE members' texts, its examples' texts) per cluster, the
    texts of several clusters looked up at once (at least ENCODE_CHUNK keys a statement)."""
    wanted: list[tuple[int, int, int]] = []
    keys: list[ItemKey] = []

    def flush() -> Iterator[tuple[int, list[str], list[str]]]:
        texts = items_contract.texts_by_key(conn, keys)
        at = 0
        for cid, n_sample, n_examples in wanted:
            yield cid, texts[at : at + n_sample], texts[at + n_sample : at + n_sample + n_examples]
            at += n_sample + n_examples
        wanted.clear()
        keys.clear()

    for cid in clusters:
        sample = members.get(cid, [])[:LABEL_SAMPLE]
        wanted.append((cid, len(sample), len(examples[cid])))
        keys.extend(sample)
        keys.extend(examples[cid])
        if len(keys) >= ENCODE_CHUNK:
            yield from flush()
    if wanted:
        yield from flush()


def _encode_parts(
    enc: WordEncoder | MiniLMEncoder, conn: Connection, keys: list[ItemKey], what: str
) -> Iterator[np.ndarray]:
    """The vectors of the items `keys`, ENCODE_CHUNK texts at a time (the chunks of the
    encoder's input are unchanged: the vectors are the same), progress reported as `what`."""
    for texts in _texts_in_chunks(conn, keys):
        part = enc.encode(texts)
        progress.report(what, len(part), len(keys))
        yield part


def _encode(
    enc: WordEncoder | MiniLMEncoder, conn: Connection, keys: list[ItemKey], what: str
) -> np.ndarray:
    parts = list(_encode_parts(enc, conn, keys, what))
    if not parts:
        return np.zeros((0, 1), dtype=np.float32)
    return np.vstack(parts)


def _fit_sample(keys: list[ItemKey]) -> list[ItemKey]:
    if len(keys) <= REFIT_CAP:
        return keys
    step = len(keys) / REFIT_CAP  # evenly spread, deterministic
    return [keys[int(i * step)] for i in range(REFIT_CAP)]


def _prepare_encoder(
    name: str, folder: Path, conn: Connection, corpus: list[ItemKey]
) -> tuple[WordEncoder | MiniLMEncoder, TermStats, bool]:
    """The encoder and the term statistics key phrases are weighed with; the statistics are
    refitted when missing or when the corpus has grown by REFIT_GROWTH (until REFIT_CAP).
    Both encoders are fixed (nothing fitted), so centroids stay valid across refits."""

    def stale(fitted_on: int) -> bool:
        return fitted_on < REFIT_CAP and len(corpus) >= REFIT_GROWTH * max(fitted_on, 1)

    enc = make_encoder(name)
    stats = _load_terms(folder / "terms.npz")
    refit = stats is None or stale(stats.n_docs)
    if refit:
        sample = _fit_sample(corpus)
        # lemmas one text at a time: the statistics keep document frequencies only
        stats = TermStats.fit(
            lemmas(body) for part in _texts_in_chunks(conn, sample) for body in part
        )
        _save_terms(folder / "terms.npz", stats)
        release_lemmas()  # not held through the clustering; the labels load them again
    assert stats is not None
    return enc, stats, refit


# ------------------------------------------------------------------------------ the run


def _existing(conn: Connection) -> tuple[dict[ItemKey, tuple[int, str | None]], int]:
    rows = conn.execute(
        text(
            "SELECT item_type, item_source, item_source_id, cluster_id, topic_key "
            "FROM nlp.topic_assignments"
        )
    )
    # Types, sources and (cluster, topic key) pairs repeat over every row: one object each,
    # not one per row (the assignments are held through the run).
    shared: dict[Any, Any] = {}
    assigned = {
        (shared.setdefault(r[0], r[0]), shared.setdefault(r[1], r[1]), r[2]): shared.setdefault(
            (int(r[3]), r[4]), (int(r[3]), r[4])
        )
        for r in rows
    }
    top = conn.execute(text("SELECT max(cluster_id) FROM nlp.clusters")).scalar()
    return assigned, (int(top) + 1 if top is not None else 0)


def _sorted_keys(keys: Any) -> list[ItemKey]:
    return sorted(keys)


def _write(
    conn: Connection,
    withdrawn: list[ItemKey],
    assignments: list[dict[str, Any]],
    clusters: list[dict[str, Any]],
) -> None:
    if withdrawn:
        conn.execute(
            text(
                "DELETE FROM nlp.topic_assignments WHERE item_type = :t AND item_source = :s "
                "AND item_source_id = :i"
            ),
            [{"t": t, "s": s, "i": i} for t, s, i in withdrawn],
        )
    if assignments:
        conn.execute(
            overwrite(
                TopicAssignment,
                ("item_type", "item_source", "item_source_id"),
                ("cluster_id", "topic_key", "encoder"),
                stamp="assigned_at",
            ),
            assignments,
        )
    if clusters:
        conn.execute(
            overwrite(
                Cluster, ("cluster_id",), ("encoder", "label", "key_phrases"), stamp="updated_at"
            ),
            clusters,
        )
    # sizes from the assignments themselves, for every cluster (cheap, always exact)
    conn.execute(
        text(
            """
            UPDATE nlp.clusters c SET size = coalesce(a.n, 0), updated_at = now()
            FROM nlp.clusters c2
            LEFT JOIN (SELECT cluster_id, count(*) AS n FROM nlp.topic_assignments
                       WHERE cluster_id >= 0 GROUP BY cluster_id) a USING (cluster_id)
            WHERE c.cluster_id = c2.cluster_id AND c.size IS DISTINCT FROM coalesce(a.n, 0)
            """
        )
    )


def assign_topics(
    engine: Engine,
    settings: Settings,
    *,
    encoder: str | None = None,
    params: ClusterParams | None = None,
    public_reviews: bool | None = None,
    min_cluster_size: int | None = None,
    before_write: Callable[[], None] | None = None,
) -> TopicReport:
    """One incremental clustering run over the consented items (see the module doc).
    `before_write` is called between reading and writing: a run beside the scoring stage
    waits there, so routing decisions see the assignments as of the run before, as when
    topics came after them."""
    started = time.perf_counter()
    name = encoder or settings.topic_encoder
    params = params or DEFAULT_PARAMS[name]
    min_size = min_cluster_size or settings.topic_min_cluster_size
    if public_reviews is None:
        public_reviews = public_reviews_are_consented(settings)
    folder = _state_dir(engine, settings)
    if name == "minilm":
        make_encoder(name)  # fail before taking the lock when the extra is missing

    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        lock.commit()
        try:
            return _run(
                engine, name, params, min_size, public_reviews, folder, started, before_write
            )
        finally:
            release_lemmas()
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            lock.commit()


def _run(
    engine: Engine,
    name: str,
    params: ClusterParams,
    min_size: int,
    public_reviews: bool,
    folder: Path,
    started: float,
    before_write: Callable[[], None] | None = None,
) -> TopicReport:
    # Every read of the run is in one snapshot: the keys first, then texts by key where they
    # are used, so the whole corpus's text is never held (about 70 MB at 100,000 tickets).
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        corpus_keys = items_contract.consented_keys(conn, public_reviews=public_reviews)
        assigned, next_id = _existing(conn)
        report, withdrawn, out_rows, cluster_rows, state = _cluster(
            conn, name, params, folder, corpus_keys, assigned, next_id
        )
        conn.rollback()  # read only
    del corpus_keys, assigned
    if before_write is not None:
        before_write()

    with engine.begin() as conn:
        _write(conn, withdrawn, out_rows, cluster_rows)
        totals = conn.execute(
            text(
                """
                SELECT count(*) AS items,
                       count(*) FILTER (WHERE cluster_id = -1) AS outliers,
                       count(DISTINCT cluster_id) FILTER (WHERE cluster_id >= 0) AS clusters
                FROM nlp.topic_assignments
                """
            )
        ).one()
        report.candidates = int(
            conn.execute(
                text("SELECT count(*) FROM nlp.clusters WHERE size >= :m"), {"m": min_size}
            ).scalar_one()
        )
        report.clusters = int(totals.clusters)
        report.outlier_share = totals.outliers / totals.items if totals.items else 0.0
        report.seconds = time.perf_counter() - started
        audit.record(
            conn,
            actor=ACTOR,
            action="assign_topics",
            entity_type="topic_clusters",
            entity_id=report.encoder,
            details={
                "considered": report.considered,
                "assigned_existing": report.assigned_existing,
                "new_clusters": len(report.new_clusters),
                "in_new_clusters": report.in_new_clusters,
                "outliers": report.outliers,
                "withdrawn": report.withdrawn,
                "outlier_share": round(report.outlier_share, 4),
                "params": asdict(params),
            },
            reason="incremental topic clustering of consented feedback",
        )

    _save_state(folder / "state.npz", state)
    report.examples = {cid: keys for cid, keys in sorted(state.examples.items()) if keys}
    return report


def _cluster(
    conn: Connection,
    name: str,
    params: ClusterParams,
    folder: Path,
    corpus_keys: list[ItemKey],
    assigned: dict[ItemKey, tuple[int, str | None]],
    next_id: int,
) -> tuple[TopicReport, list[ItemKey], list[dict[str, Any]], list[dict[str, Any]], _State]:
    """The run's reads and clustering: the report, the assignments withdrawn, the assignment
    and cluster rows to write, and the cache to save after the write."""
    items = frozenset(corpus_keys)  # consented: membership only, the texts are looked up
    enc, stats, refit = _prepare_encoder(name, folder, conn, corpus_keys)
    report = TopicReport(encoder=enc.version, items=len(items), refit=refit)

    # Assignments of items no longer consented (or gone) are withdrawn first.
    withdrawn = [k for k in assigned if k not in items]
    report.withdrawn = len(withdrawn)
    members: dict[int, list[ItemKey]] = defaultdict(list)
    for key in _sorted_keys(assigned):
        cid, _ = assigned[key]
        if key in items and cid != OUTLIER:
            members[cid].append(key)
    topic_keys: dict[int, str] = {}
    for cid, tkey in assigned.values():
        if cid != OUTLIER and tkey and cid not in topic_keys:
            topic_keys[cid] = tkey

    # Centroids: cached, rebuilt where the cache and the database disagree.
    dim = enc.dim
    state = _load_state(folder / "state.npz", enc.fingerprint, dim)
    centroids = Centroids(dim=dim)
    touched: set[int] = set()
    cached = dict(zip(state.centroids.ids, range(len(state.centroids.ids)), strict=True))
    for cid in sorted(members):
        i = cached.get(cid)
        if i is not None and int(state.centroids.counts[i]) == len(members[cid]):
            centroids.put(cid, state.centroids.sums[i], len(members[cid]))
            continue
        centroids.add(cid, _encode(enc, conn, members[cid], "topics: rebuild centroids"))
        report.rebuilt += 1
        touched.add(cid)
    # keep clusters that lost every member (their id stays taken, their row stays)
    examples = {
        cid: [k for k in keys if k in items and assigned.get(k, (None,))[0] == cid]
        for cid, keys in state.examples.items()
    }
    example_vectors = {
        cid: state.example_vectors[cid][
            [k in items and assigned.get(k, (None,))[0] == cid for k in state.examples[cid]]
        ]
        for cid in state.examples
    }

    # New items and earlier outliers, earlier outliers first (pooled as pending).
    earlier = [k for k in corpus_keys if assigned.get(k, (None,))[0] == OUTLIER]
    new = [k for k in corpus_keys if k not in assigned]
    pool = earlier + new
    report.considered = len(pool)
    # The pool's vectors go to a temporary file as they are encoded (at 100,000 tickets they
    # would take over 500 MB): clustering reads a chunk at a time, the examples a cluster's.
    version, fingerprint = enc.version, enc.fingerprint
    with VectorFile(dim, folder) as z:
        for part in _encode_parts(enc, conn, pool, "topics: encode"):
            z.append(part)
        # The encoder's token table (31 MB) is not used past here: freed before clustering,
        # where the run peaks.
        del enc
        result = cluster_incremental(
            z, centroids, params, next_id, pending=np.arange(len(earlier), dtype=np.int64)
        )
        report.assigned_existing = result.attached
        report.new_clusters = result.new_ids
        report.in_new_clusters = result.in_new
        report.outliers = result.outliers

        labels = result.labels
        for key, cid in zip(pool, labels.tolist(), strict=True):
            if cid != OUTLIER:
                members[cid].append(key)
                touched.add(cid)
        touched |= {assigned[k][0] for k in withdrawn if assigned[k][0] != OUTLIER}

        # Examples of every cluster that changed: earlier examples still valid + members
        # encoded in this run. The last use of the vectors: the file is closed before the writes.
        for cid in sorted(touched):
            rows = np.flatnonzero(labels == cid)
            cand_keys = examples.get(cid, []) + [pool[i] for i in rows]
            cand_vecs = [example_vectors.get(cid, np.zeros((0, dim), np.float32)), z.take(rows)]
            vecs = np.vstack(cand_vecs) if cand_keys else np.zeros((0, dim), np.float32)
            if cid in centroids and len(cand_keys):
                centroid = centroids.matrix()[centroids.ids.index(cid)]
                best = representative(vecs, centroid, EXAMPLES)
                examples[cid] = [cand_keys[i] for i in best]
                example_vectors[cid] = vecs[best]
            else:
                examples[cid], example_vectors[cid] = [], np.zeros((0, dim), np.float32)

    # Labels and topic keys of every cluster that changed.
    cluster_rows = []
    for cid, sample, example_texts in _label_texts(conn, sorted(touched), members, examples):
        keys = members.get(cid, [])
        docs = lemmatize(sample)
        # the label: the example nearest the centroid that reads as one (masked text)
        lab = label_cluster(docs, stats, example_texts)
        topic_keys.setdefault(cid, lab.topic_key)  # a cluster's topic key never changes
        cluster_rows.append(
            {
                "cluster_id": cid,
                "encoder": version,
                "label": lab.label,
                "key_phrases": [kp.as_dict() for kp in lab.key_phrases],
                "size": len(keys),
            }
        )

    # Assignment rows for the pool (only those that change); an outlier's topic key is its
    # own, from its text, looked up a chunk at a time.
    out_rows = []
    outliers = [k for k, c in zip(pool, labels.tolist(), strict=True) if c == OUTLIER]
    docs_iter = (lemmas(body) for part in _texts_in_chunks(conn, outliers) for body in part)
    for key, cid in zip(pool, labels.tolist(), strict=True):
        tkey = topic_keys[cid] if cid != OUTLIER else item_topic_key(next(docs_iter), stats)
        before = assigned.get(key)
        if before is not None and before == (cid, tkey):
            continue
        out_rows.append(
            {
                "item_type": key[0],
                "item_source": key[1],
                "item_source_id": key[2],
                "topic_key": tkey[:128],
                "cluster_id": cid,
                "encoder": version,
            }
        )
    return (
        report,
        withdrawn,
        out_rows,
        cluster_rows,
        _State(fingerprint, centroids, examples, example_vectors),
    )
