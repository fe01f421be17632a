"""Settings, read once at the entry point and passed down.

Every environment variable the product understands is named here, with the feature flags of the
design document (its "Feature Flags" table) and their defaults. Nothing below the entry points
reads ``os.environ``.

Example::

    settings = Settings()                      # reads the environment and .env
    settings = Settings(database_url="sqlite+aiosqlite:///tmp/t.db")
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/tamio.db"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def normalize_database_url(url: str) -> str:
    """Accept the URLs people write and return the async driver's form."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    for sync_driver in ("postgresql+psycopg2://", "postgresql+psycopg://", "postgresql+pg8000://"):
        if url.startswith(sync_driver):  # a URL written for another driver: Tamio talks asyncpg
            url = "postgresql://" + url[len(sync_driver) :]
    if url.startswith("sqlite+pysqlite:///"):
        url = "sqlite:///" + url[len("sqlite+pysqlite:///") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias=_env("TAMIO_DATABASE_URL", "database_url"))

    # Feature flags of the design document. The forecast reads schedules and payments by default
    # (the design's phase 2): both forecast paths give the same weeks, and the schedules path is
    # the one that stays fast at 10,000 agreements; an account switched to it is backfilled on
    # first use (``tamio db backfill-schedules`` does it ahead of time).
    use_obligation_system: bool = Field(True, validation_alias=_env("USE_OBLIGATION_SYSTEM", "use_obligation_system"))
    use_obligation_for_forecast: bool = Field(
        True, validation_alias=_env("USE_OBLIGATION_FOR_FORECAST", "use_obligation_for_forecast")
    )
    deprecate_direct_cash_events: bool = Field(
        False, validation_alias=_env("DEPRECATE_DIRECT_CASH_EVENTS", "deprecate_direct_cash_events")
    )

    base_currency: str = Field("USD", validation_alias=_env("TAMIO_BASE_CURRENCY", "base_currency"))
    timezone: str = Field("UTC", validation_alias=_env("TAMIO_TIMEZONE", "timezone"))
    schedule_horizon_months: int = Field(3, validation_alias=_env("TAMIO_SCHEDULE_HORIZON_MONTHS", "schedule_horizon_months"))
    # How often the server works out again the figures of accounts whose money data changed (seconds):
    # every change within one period is answered by one TARGETED run per account.
    refresh_seconds: float = Field(3.0, gt=0, validation_alias=_env("TAMIO_REFRESH_SECONDS", "refresh_seconds"))

    # Slack.
    slack_bot_token: str | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN", "slack_bot_token"))
    slack_signing_secret: str | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET", "slack_signing_secret"))
    slack_app_token: str | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN", "slack_app_token"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL", "slack_api_url"))
    slack_client_id: str | None = Field(None, validation_alias=_env("SLACK_CLIENT_ID", "slack_client_id"))
    slack_client_secret: str | None = Field(None, validation_alias=_env("SLACK_CLIENT_SECRET", "slack_client_secret"))
    public_url: str = Field("http://127.0.0.1:3000", validation_alias=_env("TAMIO_PUBLIC_URL", "public_url"))
    # How long an account's data is kept after its workspace removes Tamio (installing again within it resumes).
    uninstall_retention_days: int = Field(
        30, ge=0, validation_alias=_env("TAMIO_UNINSTALL_RETENTION_DAYS", "uninstall_retention_days")
    )

    # Fernet keys (comma-separated, newest first) for tokens stored at rest.
    secret_key: str | None = Field(None, validation_alias=_env("TAMIO_SECRET_KEY", "secret_key"))

    # SMTP for drafted emails.
    smtp_host: str = Field("127.0.0.1", validation_alias=_env("SMTP_HOST", "smtp_host"))
    smtp_port: int = Field(25, validation_alias=_env("SMTP_PORT", "smtp_port"))
    smtp_username: str | None = Field(None, validation_alias=_env("SMTP_USERNAME", "smtp_username"))
    smtp_password: str | None = Field(None, validation_alias=_env("SMTP_PASSWORD", "smtp_password"))
    smtp_sender: str = Field("tamio@localhost", validation_alias=_env("SMTP_SENDER", "smtp_sender"))
    smtp_starttls: bool = Field(False, validation_alias=_env("SMTP_STARTTLS", "smtp_starttls"))

    @property
    def email_configured(self) -> bool:
        """Whether SMTP_HOST was set: the defaults (127.0.0.1:25) stand for "no settings", and no email is offered as sendable."""
        return "smtp_host" in self.model_fields_set and bool(self.smtp_host)

    # Exchange rates.
    ecb_feed_url: str | None = Field(None, validation_alias=_env("TAMIO_ECB_FEED_URL", "ecb_feed_url"))

    # Xero.
    xero_client_id: str | None = Field(None, validation_alias=_env("XERO_CLIENT_ID", "xero_client_id"))
    xero_client_secret: str | None = Field(None, validation_alias=_env("XERO_CLIENT_SECRET", "xero_client_secret"))
    xero_api_base: str = Field("https://api.xero.com", validation_alias=_env("XERO_API_BASE", "xero_api_base"))
    xero_identity_base: str = Field(
        "https://identity.xero.com", validation_alias=_env("XERO_IDENTITY_BASE", "xero_identity_base")
    )
    xero_login_base: str = Field("https://login.xero.com", validation_alias=_env("XERO_LOGIN_BASE", "xero_login_base"))

    @field_validator("database_url")
    @classmethod
    def _normalize_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("base_currency")
    @classmethod
    def _upper_currency(cls, value: str) -> str:
        return value.strip().upper()
