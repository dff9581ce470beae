"""`feedbackloop topics cluster/eval` through Typer's CliRunner."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedbackloop.cli.topics import app
from nlp.topics import encoders

runner = CliRunner()
WORDS = ["now", "today", "asap", "soon", "again", "quickly", "first", "fully", "kindly", "twice"]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "intent"])
        writer.writerows(rows)
    return path


def dataset(tmp_path: Path) -> Path:
    """10 refund texts, 9 password texts, 1 text that fits nowhere (labelled refund)."""
    rows = [(f"please refund my order {w}", "refund") for w in WORDS]
    rows += [(f"password reset link broken {w}", "password") for w in WORDS[:9]]
    rows += [("the zebra painted a violin", "refund")]  # gold says refund; text says nothing
    return write_csv(tmp_path / "in.csv", rows)


def read_out(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_cluster_writes_row_cluster_id_and_candidate_at_the_threshold(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    args = ["cluster", "--input", str(dataset(tmp_path)), "--text-column", "text"]
    result = runner.invoke(app, [*args, "--output", str(out), "--min-cluster-size", "10"])
    assert result.exit_code == 0, result.output
    rows = read_out(out)
    assert list(rows[0]) == ["row", "cluster_id", "is_candidate"]
    assert [int(r["row"]) for r in rows] == list(range(20))
    refund = {r["cluster_id"] for r in rows[:10]}
    password = {r["cluster_id"] for r in rows[10:19]}
    assert len(refund) == 1 and len(password) == 1 and refund != password
    assert rows[19]["cluster_id"] == "-1", "the odd one out is an outlier, not forced in"
    # exactly 10 members with --min-cluster-size 10 is a candidate; 9 is not
    assert {r["is_candidate"] for r in rows[:10]} == {"true"}
    assert {r["is_candidate"] for r in rows[10:]} == {"false"}


def test_eval_json_reports_every_metric(tmp_path: Path) -> None:
    args = ["eval", "--input", str(dataset(tmp_path)), "--text-column", "text"]
    result = runner.invoke(
        app, [*args, "--label-column", "intent", "--min-cluster-size", "9", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["encoder"] == "light-v3" and report["n"] == 20
    assert report["nmi_clustered"] == pytest.approx(1.0)
    assert report["candidate_purity"] == pytest.approx(1.0)
    assert report["label_recall"] == pytest.approx(1.0)  # refund and password each found
    assert report["outlier_share"] == pytest.approx(1 / 20)
    assert report["candidates"] == 2 and report["texts_per_s"] > 0
    assert 0.8 < report["nmi"] < 1.0, "the outlier counts against NMI"
    table = runner.invoke(app, [*args, "--label-column", "intent"])
    assert table.exit_code == 0 and "NMI" in table.output


def test_errors_exit_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = dataset(tmp_path)
    out = str(tmp_path / "out.csv")
    missing = runner.invoke(
        app, ["cluster", "--input", str(path), "--text-column", "body", "--output", out]
    )
    assert missing.exit_code == 2 and "body" in missing.output
    cluster = ["cluster", "--input", str(path), "--text-column", "text", "--output", out]
    unknown = runner.invoke(app, [*cluster, "--encoder", "bert"])
    assert unknown.exit_code == 2 and "unknown encoder" in unknown.output
    monkeypatch.setattr(encoders, "minilm_available", lambda: False)
    extra = runner.invoke(app, [*cluster, "--encoder", "minilm"])
    assert extra.exit_code == 2 and "[embeddings]" in extra.output
    nofile = runner.invoke(
        app,
        [
            "eval",
            "--input",
            str(tmp_path / "nope.csv"),
            "--text-column",
            "text",
            "--label-column",
            "intent",
        ],
    )
    assert nofile.exit_code == 2
