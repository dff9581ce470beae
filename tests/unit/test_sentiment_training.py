"""Adapted model training, the `feedbackloop nlp` CLI and evaluation helpers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sentiment_support import write_csv
from typer.testing import CliRunner, Result

from feedbackloop.cli.nlp import app
from nlp import load_pipeline
from nlp.evaluation import classification_report, load_shared_sentiment
from nlp.training import normalize_label, train

runner = CliRunner()

# A tiny "domain" where the rules are wrong on purpose: in this product, "sick" is praise.
POS = ["this app is sick", "sick update, love it", "the new editor is sick", "sick feature"]
NEG = [
    "still waiting for my refund",
    "the export is broken",
    "charged twice again",
    "app crashes on login",
]
NEU = [
    "how do I export to csv?",
    "where is the invoice page?",
    "can I add a user?",
    "what is the api limit?",
]


def _rows(n: int = 6) -> tuple[list[str], list[str]]:
    texts = (POS + NEG + NEU) * n
    labels = (["positive"] * 4 + ["negative"] * 4 + ["neutral"] * 4) * n
    return texts, labels


def _invoke_train(src: Path, out: Path) -> Result:
    """`nlp train` on a CSV with `text` and `label` columns, writing the model to `out`."""
    return runner.invoke(
        app,
        [
            "train",
            "--input",
            str(src),
            "--text-column",
            "text",
            "--label-column",
            "label",
            "--output",
            str(out),
        ],
    )


def test_normalize_label_variants() -> None:
    for raw, want in [
        ("Positive", "positive"),
        ("very_negative", "negative"),
        ("NEU", "neutral"),
        ("-1", "negative"),
        ("1", "positive"),
        ("0", "neutral"),
        ("very positive", "positive"),
        (" neg ", "negative"),
    ]:
        assert normalize_label(raw) == want
    with pytest.raises(ValueError):
        normalize_label("meh")


def test_train_artifact_and_adapted_scoring(tmp_path: Path) -> None:
    rules = load_pipeline(sentiment_model="rules")
    assert rules("this app is sick")._.sentiment < 0  # the rule prior disagrees
    texts, labels = _rows()
    info = train(texts, labels, tmp_path / "m", seed=0, base="rules")
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert info.version.startswith("sentiment-adapted-")
    assert meta["version"] == info.version
    assert meta["n_train"] == len(texts)
    assert set(meta["label_set"]) == {"positive", "negative", "neutral"}
    assert "adapted" in meta["metrics"] and "rules" in meta["metrics"]
    assert (tmp_path / "m" / "model.npz").exists()

    adapted = load_pipeline(tmp_path / "m")
    doc = adapted("this app is sick")
    assert doc._.sentiment_model_version == info.version
    assert doc._.sentiment > 0.05
    assert any(e.get("rule") == "adapted_model" for e in doc._.explanation)
    assert adapted("still waiting for my refund")._.sentiment < 0


def test_train_is_deterministic_in_weights(tmp_path: Path) -> None:
    texts, labels = _rows(5)
    a = train(texts, labels, tmp_path / "a", seed=1, base="rules")
    b = train(texts, labels, tmp_path / "b", seed=1, base="rules")
    assert a.version.rsplit("-", 1)[1] == b.version.rsplit("-", 1)[1]  # same weight hash


def test_missing_model_dir_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_pipeline(tmp_path / "nope")


def test_cli_score_round_trip(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "in.csv",
        [
            {"id": "1", "body": "Still waiting for my refund!!! Third time asking."},
            {"id": "2", "body": "Love the new dashboard"},
            {"id": "3", "body": "How do I export to CSV?"},
            {"id": "4", "body": ""},
        ],
    )
    out = tmp_path / "out.csv"
    res = runner.invoke(
        app, ["score", "--input", str(src), "--text-column", "body", "--output", str(out)]
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    assert [r["row"] for r in rows] == ["0", "1", "2", "3"]
    assert list(rows[0]) == ["row", "label", "score", "frustrated"]
    assert rows[0]["label"] in ("negative", "very_negative") and rows[0]["frustrated"] == "true"
    assert rows[1]["label"] in ("positive", "very_positive")
    assert rows[2]["label"] == "neutral" and rows[2]["frustrated"] == "false"


def test_cli_train_then_score_with_model(tmp_path: Path) -> None:
    texts, labels = _rows()
    rows = [{"text": t, "label": lab.upper()[:3]} for t, lab in zip(texts, labels, strict=True)]
    src = write_csv(tmp_path / "train.csv", rows)
    res = _invoke_train(src, tmp_path / "m")
    assert res.exit_code == 0, res.output
    version = json.loads(res.output)["version"]
    inp = write_csv(tmp_path / "in.csv", [{"text": "sick feature"}])
    out = tmp_path / "out.csv"
    res = runner.invoke(
        app,
        [
            "score",
            "--input",
            str(inp),
            "--text-column",
            "text",
            "--output",
            str(out),
            "--model",
            str(tmp_path / "m"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert version in res.output.replace("\n", "")
    assert next(csv.DictReader(out.open()))["label"] in ("positive", "very_positive")


@pytest.mark.parametrize("cmd", ["score", "train", "eval"])
def test_cli_missing_column_exits_2(tmp_path: Path, cmd: str) -> None:
    src = write_csv(tmp_path / "in.csv", [{"text": "hi", "label": "positive"}])
    args = {
        "score": ["--text-column", "body", "--output", str(tmp_path / "o.csv")],
        "train": [
            "--text-column",
            "body",
            "--label-column",
            "label",
            "--output",
            str(tmp_path / "m"),
        ],
        "eval": ["--text-column", "body", "--label-column", "label"],
    }[cmd]
    res = runner.invoke(app, [cmd, "--input", str(src), *args])
    assert res.exit_code == 2
    assert "body" in res.output
    assert "Traceback" not in res.output


def test_cli_unknown_label_exits_2(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "in.csv",
        [{"text": "hi", "label": "positive"}, {"text": "meh", "label": "so-so"}],
    )
    res = _invoke_train(src, tmp_path / "m")
    assert res.exit_code == 2
    assert "so-so" in res.output
    assert not (tmp_path / "m").exists()


def test_cli_eval_json_with_train_size(tmp_path: Path) -> None:
    texts, labels = _rows(8)
    src = write_csv(
        tmp_path / "gold.csv",
        [
            {"t": t, "y": {"positive": "1", "negative": "-1", "neutral": "0"}[lab]}
            for t, lab in zip(texts, labels, strict=False)
        ],
    )
    res = runner.invoke(
        app,
        [
            "eval",
            "--input",
            str(src),
            "--text-column",
            "t",
            "--label-column",
            "y",
            "--train-size",
            "48",
            "--seed",
            "3",
            "--json",
            "--model",
            "rules",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    ours = out["systems"]["feedbackloop"]
    assert out["n"] == len(texts) - 48
    assert ours["version"].startswith("sentiment-adapted-")
    assert ours["macro_f1"] >= 0.9
    assert set(ours["per_class"]) == {"negative", "neutral", "positive"}
    assert ours["docs_per_s"] > 0
    res = runner.invoke(
        app, ["eval", "--input", str(src), "--text-column", "t", "--label-column", "y"]
    )
    assert res.exit_code == 0 and "macro-F1" in res.output


def test_classification_report_math() -> None:
    rep = classification_report(
        ["positive", "negative", "negative", "neutral"],
        ["very_positive", "negative", "positive", "neutral"],
    )
    assert rep["accuracy"] == 0.75
    assert rep["per_class"]["negative"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": 0.6667,
        "support": 2,
    }
    assert rep["macro_f1"] == round((0.6667 + 1.0 + 0.6667) / 3, 4)
    # two-class gold: macro over the gold classes only
    rep2 = classification_report(["positive", "negative"], ["positive", "neutral"])
    assert rep2["macro_f1"] == 0.5


def test_load_shared_sentiment_missing_root(tmp_path: Path) -> None:
    assert load_shared_sentiment(tmp_path) == {}
