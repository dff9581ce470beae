from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from feedbackloop.config import ConfigError, Settings, get_settings


def test_defaults_use_embedded_server_and_local_state_dir() -> None:
    s = Settings(_env_file=None)
    assert s.embedded
    assert s.state_dir == Path(".feedbackloop")


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FEEDBACKLOOP_DATABASE_URL", "postgresql://u:pw-9f3k@db.example:5433/fb")
    monkeypatch.setenv("FEEDBACKLOOP_STATE_DIR", str(tmp_path / "st"))
    monkeypatch.setenv("FEEDBACKLOOP_LOG_LEVEL", "debug")
    s = get_settings()
    assert not s.embedded
    assert s.database_url is not None
    assert s.database_url.get_secret_value().endswith("@db.example:5433/fb")
    assert "pw-9f3k" not in repr(s)  # SecretStr keeps the password out of reprs and logs
    assert s.state_dir == tmp_path / "st"
    assert s.log_level == "DEBUG"


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "FEEDBACKLOOP_STATE_DIR=/srv/feedback\nFEEDBACKLOOP_EMBEDDED_DATABASE=from_dotenv\n"
    )
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.state_dir == Path("/srv/feedback")
    assert s.embedded_database == "from_dotenv"


def test_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FEEDBACKLOOP_EMBEDDED_DATABASE=from_dotenv\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEEDBACKLOOP_EMBEDDED_DATABASE", "from_env")
    assert Settings().embedded_database == "from_env"


def test_blank_database_url_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACKLOOP_DATABASE_URL", "  ")
    assert Settings(_env_file=None).embedded


def test_unknown_log_level_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACKLOOP_LOG_LEVEL", "chatty")
    with pytest.raises(ValidationError, match="log level"):
        Settings(_env_file=None)


def test_hash_key_is_required_with_a_production_url(tmp_path: Path) -> None:
    s = Settings(_env_file=None, database_url="postgresql://u:p@h/db", state_dir=tmp_path)
    with pytest.raises(ConfigError, match="FEEDBACKLOOP_PII_HASH_KEY"):
        s.hash_key()


def test_embedded_hash_key_is_created_once_and_kept(tmp_path: Path) -> None:
    first = Settings(_env_file=None, state_dir=tmp_path).hash_key()
    second = Settings(_env_file=None, state_dir=tmp_path).hash_key()
    assert first == second and len(first) == 64
    assert (tmp_path / "pii_hash_key").stat().st_mode & 0o077 == 0


def test_explicit_hash_key_wins(tmp_path: Path) -> None:
    s = Settings(_env_file=None, state_dir=tmp_path, pii_hash_key="k3y")
    assert s.hash_key() == b"k3y"
    assert not (tmp_path / "pii_hash_key").exists()


def test_email_deliverability_is_off_by_default_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from feedbackloop.governance.identity import check_email

    assert Settings(_env_file=None).email_check_deliverability is False
    syntax_only = check_email("someone@no-such-domain-4f7a.com")
    assert syntax_only.valid  # syntax is fine; no lookup was made
    started = time.monotonic()
    looked_up = check_email("someone@no-such-domain-4f7a.com", deliverability=True, timeout=1.0)
    assert time.monotonic() - started < 5
    assert not looked_up.valid and looked_up.reason
    assert "someone" not in looked_up.reason  # reasons never quote the address
