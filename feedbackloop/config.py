"""Settings: one object, read from `FEEDBACKLOOP_*` environment variables and `.env`.

This module is the only reader of the environment. `feedbackloop.resources.Resources` builds
everything else from the object: SQLAlchemy (`feedbackloop.db`), dbt (a profile written under
the state dir) and Great Expectations (the URL, passed in).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_origin

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FEEDBACKLOOP_"


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names the setting and never holds a secret."""


def _generated_secret(what: str) -> Any:
    """A secret setting served by `Settings._secret_or_generated`: its description states that
    rule once for every such secret."""
    return Field(
        default=None,
        description=f"{what}. Required with DATABASE_URL; with the embedded server a random key "
        "is created under STATE_DIR.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded server under STATE_DIR is used.",
    )
    state_dir: Path = Field(
        default=Path(".feedbackloop"),
        description="Where the embedded server's data, dbt artifacts, models and reports live.",
    )
    embedded_database: str = Field(
        default="feedbackloop", description="Database created on the embedded server."
    )
    pii_hash_key: SecretStr | None = _generated_secret(
        "Key for the keyed hash that replaces email addresses in storage"
    )
    bi_reader_password: SecretStr | None = Field(
        default=None,
        description="Password `feedbackloop db migrate` gives the bi_reader role (BI tools).",
    )
    # Sources (collect). Unset base URLs mean the source is not configured.
    zendesk_base_url: str | None = Field(
        default=None, description="Zendesk account URL, e.g. https://acme.zendesk.com."
    )
    zendesk_email: str | None = Field(default=None, description="Zendesk API user (email).")
    zendesk_api_token: SecretStr | None = Field(default=None, description="Zendesk API token.")
    zendesk_webhook_secret: SecretStr | None = Field(
        default=None, description="Signing secret of the Zendesk webhook."
    )
    reviews_base_url: str | None = Field(
        default=None,
        description="App Store Connect API base URL (https://api.appstoreconnect.apple.com).",
    )
    reviews_app_id: str | None = Field(default=None, description="App Store Connect app id.")
    reviews_issuer_id: str | None = Field(default=None, description="App Store Connect issuer id.")
    reviews_key_id: str | None = Field(default=None, description="App Store Connect key id.")
    reviews_private_key_path: Path | None = Field(
        default=None, description="Path of the App Store Connect .p8 private key."
    )
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="HMAC secret per source for POST /webhooks/{source} (JSON object).",
    )
    log_level: str = Field(default="INFO", description="Log level of the CLI and flows.")
    dashboard_url: str | None = Field(
        default=None,
        description="Public URL of the dashboard; failure alerts link to its failure view.",
    )
    owner_alert_webhook_url: SecretStr | None = Field(
        default=None,
        description=(
            "Slack incoming-webhook URL of the owners' channel: failed flow runs, exhausted "
            "actions and health checks failing twice in a row are posted there."
        ),
    )
    # ---- Dashboard (issue #9) ----------------------------------------------------------------
    # feedbackloop/web/dashboard/, served by `feedbackloop web`: every page asks for HTTP Basic
    # credentials; without a password the dashboard answers 503 instead of being open.
    dashboard_user: str = Field(default="admin", description="User name of the dashboard.")
    dashboard_password: SecretStr | None = Field(
        default=None,
        description="Password of the dashboard (HTTP Basic); unset: the dashboard is closed (503).",
    )
    # ---- end of the dashboard block ------------------------------------------------------------
    email_check_deliverability: bool = Field(
        default=False, description="Also look up each email domain's MX records (needs DNS)."
    )
    email_dns_timeout: float = Field(
        default=2.0, gt=0, description="Seconds one deliverability lookup may take."
    )
    known_sources: list[str] = Field(
        default=[
            "zendesk",
            "app_store",
            "crm",
            "zendesk_guide",
            "gong",
            "salesforce",
            "survey",
            "cs_platform",
            "feedback_form",
        ],
        description="Sources the raw gate accepts (JSON list); other sources are rejected.",
    )
    gate_max_failed_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Share of a stream's rows that may fail the GX gate before the loop stops.",
    )
    dbt_project_dir: Path = Field(
        default=Path(__file__).resolve().parent.parent / "dbt_project",
        description="The dbt project the marts are built from.",
    )
    # Score (issue #16): the sentiment model when no adapted model is approved. "encoder" is
    # MiniLM (ONNX, int8, exported once into the user's cache) with the packaged head;
    # "rules" the rule scorer alone, the fast path with no encoder.
    sentiment_model: Literal["encoder", "rules"] = Field(
        default="encoder",
        description="Sentiment model: encoder (MiniLM head, embeddings extra) or rules.",
    )
    encoder_cache_dir: Path | None = Field(
        default=None,
        description=(
            "Where the encoder's ONNX export is kept. Unset: ~/.cache/feedbackloop/onnx, one"
            " export for every state dir (files are named by the weights' hash)."
        ),
    )
    # Learn, topic clustering (issue #8; feedbackloop/topics.py, `feedbackloop topics`): which
    # encoder turns text into vectors ("minilm" needs the embeddings extra), recorded on every
    # cluster and assignment; clusters with at least TOPIC_MIN_CLUSTER_SIZE members are
    # candidates (FAQ, review).
    topic_encoder: Literal["light", "minilm"] = Field(
        default="light",
        description="Topic encoder: light (WordLlama embeddings) or minilm (embeddings extra).",
    )
    topic_min_cluster_size: int = Field(
        default=30, ge=2, description="Members a topic cluster needs to be a candidate."
    )
    # The loop's second core (issue #20): work that shares no row with the stage beside it
    # runs in a forked child: Zendesk's ticket events (most of a pull's CPU) beside tickets and
    # ratings, topics beside score + decide and send. 1 keeps everything in one process.
    workers: int = Field(default=2, ge=1, le=2, description="Processes the loop may use (1 or 2).")
    # Scale-out (issue #10): scoring runs in-process, or partitioned by item key range on a Dask
    # cluster through prefect-dask (a LocalCluster of DASK_WORKERS processes, or DASK_ADDRESS).
    task_runner: Literal["local", "dask"] = Field(
        default="local", description="Where scoring runs: local (in-process) or dask."
    )
    dask_address: str | None = Field(
        default=None,
        description="Address of a running Dask scheduler (tcp://host:8786); unset: LocalCluster.",
    )
    dask_workers: int = Field(
        default=2, ge=1, description="Worker processes of the LocalCluster when no address is set."
    )
    score_partitions: int = Field(
        default=0,
        ge=0,
        description="Key ranges scored in parallel on Dask; 0: 2 per worker (8 with an address).",
    )
    # Route (issue #6): the rules file, the action targets and the outbox dispatcher. Zendesk
    # actions reuse the ZENDESK_* settings; failed actions alert ROUTING_ALERT_CHANNEL or, when
    # unset, the owners' channel (OWNER_ALERT_WEBHOOK_URL).
    routing_rules_path: Path = Field(
        default=Path(__file__).resolve().parent.parent / "config" / "routing.yml",
        description="The routing rules (YAML), validated on load: config/routing.yml.",
    )
    slack_webhook_urls: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Slack incoming-webhook URL per channel name the rules use (JSON object).",
    )
    hubspot_base_url: str | None = Field(
        default=None, description="HubSpot API base URL (https://api.hubapi.com)."
    )
    hubspot_token: SecretStr | None = Field(
        default=None, description="HubSpot private-app access token (sent as a Bearer token)."
    )
    routing_alert_channel: str | None = Field(
        default=None,
        description=(
            "Channel (a key of SLACK_WEBHOOK_URLS) told about actions that failed for good; "
            "unset: the owners' channel."
        ),
    )
    routing_max_attempts: int = Field(
        default=5, ge=1, le=50, description="Attempts per action before it fails and alerts."
    )
    routing_dispatch_workers: int = Field(
        default=4, ge=1, le=64, description="Actions sent at once by one dispatcher run."
    )
    routing_retry_delay: float = Field(
        default=60.0,
        ge=0,
        description="Seconds before the first retry of an action; doubles per attempt (max 1 h).",
    )
    # The targets' documented write limits (issue #20); the dispatcher spaces its writes to
    # stay under them. 0: no limit (the loopback fakes). Slack: "1 per second" per incoming
    # webhook (Slack API docs, Rate limits). Zendesk: Update Ticket, 100 requests per minute
    # per account (developer.zendesk.com, API reference, Rate limits). HubSpot: 100 requests
    # per 10 seconds per private app on Free/Starter, the lowest tier (developers.hubspot.com,
    # API usage guidelines and limits).
    slack_posts_per_second: float = Field(
        default=1.0, ge=0, description="Posts per second per Slack webhook (0: no limit)."
    )
    zendesk_writes_per_minute: float = Field(
        default=100.0, ge=0, description="Zendesk ticket writes per minute (0: no limit)."
    )
    hubspot_requests_per_second: float = Field(
        default=10.0, ge=0, description="HubSpot write requests per second (0: no limit)."
    )

    # ---- Product events and usage milestones (issue #18) ---------------------------------------
    # POST /webhooks/segment (feedbackloop/web/segment.py) verifies Segment's webhook signature
    # with this secret; unset: the endpoint answers 404 and accepts nothing.
    segment_shared_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret of the Segment webhook destination (X-Signature, HMAC-SHA1).",
    )
    milestones_path: Path = Field(
        default=Path(__file__).resolve().parent.parent / "config" / "milestones.yml",
        description="The usage milestones (YAML), validated on load: config/milestones.yml.",
    )
    # ---- end of the milestones block -----------------------------------------------------------
    # ---- Quick feedback form and survey links (issue #18, part B) ----------------------------
    # feedbackloop/web/form.py serves GET/POST /feedback; feedbackloop/surveys.py makes the
    # `{survey_link}` of auto-reply templates: PUBLIC_BASE_URL + /feedback?t=<signed token>.
    public_base_url: str | None = Field(
        default=None,
        description=(
            "Public URL of `feedbackloop web` (https://feedback.example.com): survey links start "
            "with it; unset: replies with {survey_link} are skipped with the reason."
        ),
    )
    survey_link_secret: SecretStr | None = _generated_secret("HMAC key of survey-link tokens")
    survey_link_days: int = Field(
        default=14, ge=1, le=365, description="Days a survey link stays valid."
    )
    feedback_form_scale: Literal["1-5", "0-10"] = Field(
        default="1-5", description="Rating scale of the form without a link (0-10 is NPS)."
    )
    feedback_form_frame_ancestors: list[str] = Field(
        default=["'self'"],
        description=(
            "Origins that may show the form in an iframe (CSP frame-ancestors, JSON list), "
            'e.g. ["\'self\'", "https://www.example.com"].'
        ),
    )
    feedback_form_rate_limit: int = Field(
        default=10, ge=1, description="Form posts one client may make per 10 minutes."
    )
    feedback_form_max_text: int = Field(
        default=5000, ge=100, le=100_000, description="Characters the form's text box takes."
    )
    # ---- end of the feedback form block ---------------------------------------------------------

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_url_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def state_path(self) -> Path:
        """STATE_DIR as an absolute path, created on first use."""
        path = self.state_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def sentiment_options(self) -> dict[str, Any]:
        """Keyword arguments of ``nlp.load_pipeline`` for these settings (nlp/ does not read
        settings: it is a leaf package)."""
        options: dict[str, Any] = {"sentiment_model": self.sentiment_model}
        if self.encoder_cache_dir is not None:
            options["encoder_cache"] = str(self.encoder_cache_dir)
        return options

    def require(self, what: str, *names: str) -> None:
        """Fail fast, naming every unset setting among `names` (field names)."""
        missing = [f"{ENV_PREFIX}{n.upper()}" for n in names if not getattr(self, n)]
        if missing:
            raise ConfigError(f"{what} is not configured: set {', '.join(missing)}")

    def hash_key(self) -> bytes:
        """The PII hash key; fails fast in production instead of defaulting to a blank key."""
        return self._secret_or_generated(self.pii_hash_key, "PII_HASH_KEY", "pii_hash_key")

    def survey_secret(self) -> bytes:
        """The survey-link HMAC key; like `hash_key`, random under STATE_DIR only when embedded."""
        return self._secret_or_generated(
            self.survey_link_secret, "SURVEY_LINK_SECRET", "survey_link_secret"
        )

    def _secret_or_generated(self, value: SecretStr | None, setting: str, file: str) -> bytes:
        """The setting when given; with the embedded server a random key kept in STATE_DIR/file;
        otherwise an error naming the setting."""
        if value is not None and value.get_secret_value():
            return value.get_secret_value().encode()
        if not self.embedded:
            raise ConfigError(
                f"{ENV_PREFIX}{setting} is required when {ENV_PREFIX}DATABASE_URL is set "
                "(a random key is only generated for the embedded server)"
            )
        key_file = self.state_path / file
        if not key_file.exists():
            # O_EXCL: two first runs racing must not end with two different keys.
            try:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32))
        return key_file.read_text().strip().encode()

    def updated(self, values: Mapping[str, Any]) -> Settings:
        """A validated copy with some settings replaced (field names; values typed, or as the
        environment would spell them: JSON for lists and mappings)."""
        unknown = sorted(set(values) - set(type(self).model_fields))
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(unknown)}")
        parsed = {
            name: json.loads(value) if isinstance(value, str) and _is_json_field(name) else value
            for name, value in values.items()
        }
        return type(self).model_validate({**self.model_dump(), **parsed})


def _is_json_field(name: str) -> bool:
    origin = get_origin(Settings.model_fields[name].annotation)
    return origin in (dict, list)


class ProjectLocation(BaseSettings):
    """Read on its own, before `Settings` (Prefect's pull step): which directory a flow run
    works in, so that relative settings and `.env` mean what they mean in the checkout."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    project_dir: Path | None = Field(
        default=None,
        description="The project directory on this worker; unset: the checkout installed from.",
    )


# The settings of the current context when `settings_overridden` is active: context-local, so
# concurrent threads and tasks each see their own (nothing is written to the environment).
_override: ContextVar[Settings | None] = ContextVar("feedbackloop_settings", default=None)


def get_settings() -> Settings:
    """The settings of this context: an active `settings_overridden`, else those loaded once
    from the environment and `.env`."""
    return _override.get() or _loaded_settings()


@lru_cache(maxsize=1)
def _loaded_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """For tests and the CLI after changing the environment."""
    _loaded_settings.cache_clear()


@contextmanager
def settings_overridden(values: Settings | Mapping[str, Any]) -> Iterator[Settings]:
    """Run with other settings: a whole `Settings`, or some replaced (`Settings.updated`).

    The demo points the real collect flows at its fake APIs this way; flows and commands run
    in this context read these settings. Context-local: safe with concurrent runs."""
    settings = values if isinstance(values, Settings) else get_settings().updated(values)
    token = _override.set(settings)
    try:
        yield settings
    finally:
        _override.reset(token)
