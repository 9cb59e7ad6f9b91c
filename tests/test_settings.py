"""Settings.from_env: what an empty environment means, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from kameng.settings import DEVELOPMENT_SECRET, Settings, SettingsError, environment_variables

GOOD_SECRET = "a3f9c1e07b5d42e8a6f0b9c3d7e1f5a2"
CARD_KEY_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def test_an_empty_environment_gives_the_development_defaults() -> None:
    settings = Settings.from_env({})

    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.environment == "development"
    assert settings.database_url == "sqlite:///var/kameng.db"
    assert settings.secret_key.get_secret_value() == DEVELOPMENT_SECRET
    assert settings.calendar_file is None
    assert not settings.production


def test_every_setting_is_read_from_its_kameng_variable() -> None:
    settings = Settings.from_env(
        {
            "KAMENG_HOST": "0.0.0.0",
            "KAMENG_PORT": "8080",
            "KAMENG_ENV": "test",
            "KAMENG_DATABASE_URL": "postgresql+psycopg://kameng@db/kameng",
            "KAMENG_SECRET_KEY": GOOD_SECRET,
            "KAMENG_CALENDAR_FILE": "/etc/kameng/calendar.yaml",
        }
    )

    assert settings == Settings(
        host="0.0.0.0",
        port=8080,
        environment="test",
        database_url="postgresql+psycopg://kameng@db/kameng",
        secret_key=GOOD_SECRET,
        calendar_file=Path("/etc/kameng/calendar.yaml"),
    )


def test_nothing_is_read_from_the_process_environment_when_a_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAMENG_PORT", "9999")

    assert Settings.from_env({}).port == 8000
    assert Settings.from_env().port == 9999


def test_an_empty_calendar_file_variable_means_no_overrides() -> None:
    assert Settings.from_env({"KAMENG_CALENDAR_FILE": ""}).calendar_file is None


@pytest.mark.parametrize("port", ["eighty", "", "80.5", "0", "65536", "-1"])
def test_a_bad_port_is_refused_with_a_message_naming_the_variable(port: str) -> None:
    with pytest.raises(SettingsError, match=r"^KAMENG_PORT: ") as caught:
        Settings.from_env({"KAMENG_PORT": port})

    assert port in str(caught.value)


def test_an_unknown_environment_is_refused_with_a_message_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^KAMENG_ENV: .*'staging'"):
        Settings.from_env({"KAMENG_ENV": "staging"})


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(SettingsError, match=r"^KAMENG_SECRET_KEY: "):
        Settings.from_env({"KAMENG_ENV": "production"})
    with pytest.raises(SettingsError, match=r"^KAMENG_SECRET_KEY: "):
        Settings.from_env({"KAMENG_ENV": "production", "KAMENG_SECRET_KEY": DEVELOPMENT_SECRET})


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(SettingsError, match=r"^KAMENG_SECRET_KEY: .*32"):
        Settings.from_env({"KAMENG_ENV": "production", "KAMENG_SECRET_KEY": "changethis"})


def test_production_accepts_a_long_random_secret() -> None:
    settings = Settings.from_env(
        {"KAMENG_ENV": "production", "KAMENG_SECRET_KEY": GOOD_SECRET, "KAMENG_CARD_KEY_KEYS": CARD_KEY_KEY}
    )

    assert settings.production
    assert settings.secret_key.get_secret_value() == GOOD_SECRET


@pytest.mark.parametrize("environment", ["development", "test"])
def test_outside_production_the_development_secret_is_allowed(environment: str) -> None:
    settings = Settings.from_env({"KAMENG_ENV": environment})

    assert settings.secret_key.get_secret_value() == DEVELOPMENT_SECRET
    assert not settings.production


def test_the_error_message_never_echoes_the_secret() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"KAMENG_ENV": "production", "KAMENG_SECRET_KEY": "hunter2-short"})

    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("yes", True), ("0", False), ("false", False), ("no", False)]
)
def test_the_embedded_worker_can_be_switched_off(value: str, expected: bool) -> None:
    assert Settings.from_env({"KAMENG_EMBEDDED_WORKER": value}).embedded_worker is expected


def test_outside_production_the_database_is_prepared_unless_told_not_to() -> None:
    assert Settings.from_env({}).auto_prepare
    assert Settings.from_env({"KAMENG_ENV": "test"}).auto_prepare
    assert not Settings.from_env({"KAMENG_AUTO_PREPARE": "0"}).auto_prepare


def test_production_never_prepares_the_database_by_default() -> None:
    settings = Settings.from_env(
        {"KAMENG_ENV": "production", "KAMENG_SECRET_KEY": GOOD_SECRET, "KAMENG_CARD_KEY_KEYS": CARD_KEY_KEY}
    )

    assert not settings.auto_prepare


# --------------------------------------------------------------------------------------------
# pydantic-settings: .env, secrets, the documented example

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def _example_variables() -> dict[str, str]:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def test_every_setting_is_documented_in_the_env_example() -> None:
    documented = _example_variables()

    missing = [name for name in environment_variables() if name not in documented]
    unknown = [name for name in documented if name not in environment_variables()]
    assert missing == []
    assert unknown == []


def test_the_env_example_shows_the_defaults() -> None:
    assert Settings.from_env(_example_variables()) == Settings()


def test_a_dotenv_file_in_the_working_directory_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("KAMENG_PORT=8123\nKAMENG_HOST=0.0.0.0\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAMENG_HOST", "10.1.2.3")

    settings = Settings.from_env()

    assert settings.port == 8123
    assert settings.host == "10.1.2.3"


def test_settings_built_in_code_read_neither_the_environment_nor_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("KAMENG_PORT=8123\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAMENG_HOST", "10.1.2.3")

    assert Settings() == Settings.from_env({})
    assert Settings.from_env({}).port == 8000


def test_secrets_are_hidden_when_settings_are_printed() -> None:
    settings = Settings.from_env({"KAMENG_SECRET_KEY": GOOD_SECRET, "KAMENG_METRICS_TOKEN": "scrape-token-1234"})

    assert GOOD_SECRET not in repr(settings)
    assert "scrape-token-1234" not in repr(settings)
    assert settings.metrics_token is not None
    assert settings.metrics_token.get_secret_value() == "scrape-token-1234"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KAMENG_RATE_LIMIT_SIGN_IN", "ten a minute"),
        ("KAMENG_REDIS_URL", "http://127.0.0.1:6379"),
        ("KAMENG_LOG_FORMAT", "xml"),
        ("KAMENG_LOG_LEVEL", "loud"),
    ],
)
def test_a_wrong_operations_setting_is_refused_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"^{variable}: "):
        Settings.from_env({variable: value})
