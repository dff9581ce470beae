"""The demo's outside world: the fake Zendesk and App Store servers and a notes drop file,
serving one generated dataset so the demo collects it through the real connectors; and the
routing targets (fake Zendesk, Slack, HubSpot) the demo's actions are sent to.

Reference data with no API connector yet (CRM accounts, contacts and consent flags, help
center articles) is loaded by `demo.load` with the same governance steps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo.fake_app_store import generate_key_pair, serve_fake_app_store
from demo.fake_targets import FakeTargets, serve_fake_targets
from demo.fake_zendesk import FaultPlan, serve_fake_zendesk
from demo.generator import DemoDataset, DemoNote
from feedbackloop.scratch import private_dir

# Streams the demo loads directly: the CRM export and the help center.
REFERENCE_STREAMS = ("accounts", "contacts", "faq_articles")


@dataclass(frozen=True)
class DemoSources:
    """Where the running fakes are, as the settings the connectors read."""

    settings: dict[str, str]
    drop_path: Path
    # The running FakeZendesk and FakeAppStore, for callers that change data mid-run.
    fakes: tuple[Any, Any] = ()  # type: ignore[assignment]


def _drop_record(note: DemoNote) -> dict[str, object]:
    return {
        "id": note.source_id,
        "source": note.source,
        "department": note.department,
        "kind": note.kind,
        "created_at": note.created_at.isoformat(),
        "updated_at": note.updated_at.isoformat(),
        "text": note.text,
        "contact_email": note.contact_email,
        "account_id": note.account_source_id,
        "rating": note.rating,
    }


def write_notes_drop(notes: list[DemoNote] | tuple[DemoNote, ...], path: Path) -> Path:
    """The dataset's notes as a JSONL drop file in the documented drop schema (mode 600: it
    holds unmasked personal data, as a real export does)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for note in notes:
            fh.write(json.dumps(_drop_record(note), ensure_ascii=False) + "\n")
    return path


@contextmanager
def serve_demo_sources(
    dataset: DemoDataset,
    *,
    malformed: bool = True,
    page_size: int = 1000,
    state_dir: Path | None = None,
) -> Iterator[DemoSources]:
    """Start both fakes and write the drop file; everything is gone when the block ends.

    The drop file (the generated, unmasked personal data a real export would hold) and the
    fake App Store key live in a private scratch dir under the state dir (`STATE_DIR/tmp`,
    mode 700), never the shared system temp dir; after a kill -9 the next start removes it.
    With `malformed`, the fake Zendesk also serves a few broken tickets, so the demo shows
    them quarantined while the rest loads."""
    if state_dir is None:
        from feedbackloop.config import get_settings

        state_dir = get_settings().state_path
    with ExitStack() as stack:
        workdir = stack.enter_context(private_dir(state_dir, "fl-demo-"))
        zendesk = stack.enter_context(
            serve_fake_zendesk(
                dataset, page_size=page_size, faults=FaultPlan(malformed_tickets=malformed)
            )
        )
        keys = generate_key_pair()
        # 200 reviews a page: the documented maximum of `limit`, which the connector asks for.
        app_store = stack.enter_context(serve_fake_app_store(dataset, key_pair=keys, page_size=200))
        key_path = keys.write_p8(workdir / "AuthKey_demo.p8")
        drop = write_notes_drop(dataset.notes, workdir / "notes.jsonl")
        yield DemoSources(
            settings={
                "zendesk_base_url": zendesk.base_url,
                "zendesk_email": zendesk.email,
                "zendesk_api_token": zendesk.api_token,
                "reviews_base_url": app_store.base_url,
                "reviews_app_id": app_store.app_id,
                "reviews_issuer_id": app_store.issuer_id,
                "reviews_key_id": app_store.key_id,
                "reviews_private_key_path": str(key_path),
            },
            drop_path=drop,
            fakes=(zendesk, app_store),
        )


@contextmanager
def serve_routing_fakes(dataset: DemoDataset) -> Iterator[FakeTargets]:
    """Every routing target for the demo: a fake Zendesk serving `dataset` (the tickets the
    demo collected, so replies, tags and priorities land on them), Slack and HubSpot."""
    with ExitStack() as stack:
        zendesk = stack.enter_context(serve_fake_zendesk(dataset))
        targets = stack.enter_context(serve_fake_targets())
        yield FakeTargets(targets.slack, targets.hubspot, zendesk)
