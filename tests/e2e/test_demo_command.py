"""`feedbackloop demo` as a user runs it: a Prefect flow run end to end on the embedded server."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

from demo.generator import generate

FEEDBACKLOOP = str(Path(sys.executable).with_name("feedbackloop"))


def test_demo_prints_row_counts_from_the_database(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACKLOOP_", "PREFECT_"))}
    env["FEEDBACKLOOP_STATE_DIR"] = str(tmp_path / "state")
    env["COLUMNS"] = "200"  # Rich tables unabbreviated
    dataset = generate(seed=5, tickets=300)
    try:
        result = subprocess.run(
            [FEEDBACKLOOP, "demo", "--tickets", "300", "--seed", "5"],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        out = result.stdout
        assert "Rows in the database now" in out
        assert re.search(r"raw\.tickets\s*│\s*300\b", out), out
        assert "CREDIT_CARD" in out  # masked-entity counts are shown
        # Collected through the connectors from the fakes: received, stored, unchanged,
        # quarantined. The fake Zendesk serves three malformed tickets on top of the 300.
        assert re.search(r"zendesk\s*│\s*tickets\s*│\s*303\s*│\s*300\s*│\s*0\s*│\s*3\s*│", out)
        reviews, notes = len(dataset.reviews), len(dataset.notes)
        assert re.search(
            rf"app_store\s*│\s*customer_reviews\s*│\s*{reviews}\s*│\s*{reviews}\s*│", out
        )
        assert re.search(rf"drops\s*│\s*notes\s*│\s*{notes}\s*│\s*{notes}\s*│", out)
        assert re.search(rf"raw\.reviews\s*│\s*{reviews}\b", out)
        assert re.search(rf"raw\.notes\s*│\s*{notes}\b", out)
        # Three malformed tickets and the demo's one Segment call without a messageId.
        assert re.search(r"ops\.quarantine\s*│\s*4\b", out)
        # Routed: decided with the scores, sent once each to the fakes, one explained.
        sent = re.search(r"dispatched to the fakes: ([\d,]+) sent, 0 retrying, 0 failed", out)
        assert sent and int(sent[1].replace(",", "")) > 0, out[-4000:]
        assert re.search(rf"ops\.action_attempts\s*│\s*{sent[1]}\b", out)
        assert re.search(r"all rules\s*│\s*auto_reply\s*│", out)
        assert re.search(r"Action #\d+ \(fl-[0-9a-f]+\)", out)
        assert "Why: rule" in out
        assert re.search(r"Topics \(light-v3\): [\d,]+ clusters", out)
        # Product events through the signed Segment endpoint: the replay stored once, the bad
        # call quarantined, milestones reached once each and a survey task explained.
        events = re.search(
            r"Product events \(POST /webhooks/segment, signed\): (\d+) calls in \d+ requests, "
            r"(\d+) stored, 1 duplicates, 1 quarantined",
            out,
        )
        assert events and int(events[2]) == int(events[1]) - 2, out[-4000:]
        assert re.search(rf"raw\.segment_events\s*│\s*{events[2]}\b", out)
        assert "'tenth-report': 4" in out and "'trial-day-7': 1" in out
        assert re.search(r"milestone-survey\s*│\s*create_task\s*│\s*[1-9]", out), out[-4000:]
        assert 'Usage milestone "tenth-report"' in out or 'Usage milestone "trial-day-7"' in out
        # The demo pinged once (source freshness among the checks), so dbt run by hand finds
        # every source fresh, ops.health_pings included.
        assert re.search(r"Health checks: \d+ recorded in ops\.health_pings, all ok", out), out
        _assert_no_card_or_ssn_anywhere(dataset, tmp_path)
        status = subprocess.run(
            [FEEDBACKLOOP, "db", "status"], capture_output=True, text=True, env=env, timeout=120
        )
        assert re.search(r"raw\.tickets\s*│\s*300\b", status.stdout), status.stdout
        fresh = subprocess.run(
            [FEEDBACKLOOP, "dbt", "source", "freshness"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert fresh.returncode == 0, fresh.stdout[-3000:] + fresh.stderr[-3000:]
        assert re.search(r"PASS freshness of ops\.health_pings", fresh.stdout), fresh.stdout
    finally:
        subprocess.run([FEEDBACKLOOP, "db", "stop"], env=env, capture_output=True, timeout=120)


def _secrets_of(dataset: object) -> set[bytes]:
    """Every card number and SSN the generator wrote into the demo texts, as stored bytes:
    as written, and with digits only (a masker that dropped separators must not pass)."""
    found: set[bytes] = set()
    for f in dataclasses.fields(dataset):  # type: ignore[arg-type]
        records = getattr(dataset, f.name)
        if not isinstance(records, (list, tuple)):
            continue
        for record in records:
            for kind, value in getattr(record, "pii_values", ()):
                if kind in ("CREDIT_CARD", "US_SSN"):
                    found.add(value.encode())
                    found.add(re.sub(r"\D", "", value).encode())
    return found


def _names_of(dataset: object) -> set[bytes]:
    """The generated people's full names (given name + surname) that the demo texts contain,
    in signatures, greetings and notes ("Best,\nGrace White", "Chat with Grace White")."""
    texts = "\n".join(
        value
        for f in dataclasses.fields(dataset)  # type: ignore[arg-type]
        if isinstance(records := getattr(dataset, f.name), (list, tuple))
        for record in records
        if dataclasses.is_dataclass(record)
        for g in dataclasses.fields(record)
        if isinstance(value := getattr(record, g.name), str)
    )
    contacts = dataset.contacts  # type: ignore[attr-defined]
    return {c.name.encode() for c in contacts if " " in c.name and c.name in texts}


def _assert_no_card_or_ssn_anywhere(dataset: object, root: Path) -> None:
    """Scan every file the demo left under its state dir (database files and WAL, dbt and
    Prefect logs and databases, GX Data Docs) for the raw card numbers, SSNs and names."""
    secrets = _secrets_of(dataset)
    # How many the generator writes depends on the date (it generates up to today): a few
    # distinct numbers are enough for the scan to mean something.
    assert len(secrets) >= 6, "the generated data should contain cards and SSNs to look for"
    names = _names_of(dataset)
    assert len(names) >= 5, "the generated texts should contain full names to look for"
    secrets |= names
    leaks = []
    for path in (root / "state").rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            leaks += [(str(path.relative_to(root)), s.decode()) for s in secrets if s in data]
    assert leaks == [], leaks[:10]
