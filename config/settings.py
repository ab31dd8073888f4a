"""The one typed settings object.

Precedence (highest first): explicit keyword arguments, ``HOTLINE_*`` environment
variables (nested with ``__``, e.g. ``HOTLINE_SIP__PORT=5070``), the TOML file named by
``HOTLINE_CONFIG_FILE`` (default ``config/hotline.toml``), then the defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_DIR = Path(__file__).resolve().parent
PROJECT_DIR = CONFIG_DIR.parent


class DeadlineSettings(BaseModel):
    urgent_hours: float = 1.0
    livelihood_hours: float = 24.0
    general_working_days: int = 5
    # A handler must sign this many seconds after dispatch (the 5-minute window).
    sign_window_seconds: int = 300
    # Utilities (水电气暖) must leave the manual queue within this many seconds.
    utility_dispatch_seconds: int = 600
    # A rejected-and-redone (驳回重办) ticket gets this many working days again.
    redo_working_days: int = 5


class DuplicateSettings(BaseModel):
    window_hours: float = 72.0


class AsrSettings(BaseModel):
    model_dir: Path = PROJECT_DIR / "var" / "models"
    # Name of the model directory under model_dir the service loads.
    model_name: str = "vosk-model-small-cn-0.22"
    sample_rate: int = 8000
    workers: int = 0  # 0 = one per core
    low_confidence: float = 0.6


class SipSettings(BaseModel):
    # "register": REGISTER to a registrar/proxy (Kamailio); "direct": take INVITEs as they come.
    mode: str = "direct"
    bind_ip: str = "127.0.0.1"
    port: int = 5080
    rtp_port_low: int = 20000
    rtp_port_high: int = 20999
    registrar_ip: str = "127.0.0.1"
    registrar_port: int = 5060
    username: str = "12345"
    password: str = ""
    max_calls: int = 20
    operator_uri: str = ""
    max_record_seconds: int = 120
    end_silence_seconds: float = 3.0


class TwilioSettings(BaseModel):
    account_sid: str = ""
    auth_token: str = ""
    api_base: str = "https://api.twilio.com"
    from_number: str = ""
    public_base_url: str = "http://127.0.0.1:8000"


class OutboundSettings(BaseModel):
    sms_provider: str = "log"  # log | webhook | twilio
    sms_webhook_url: str = ""
    dialer: str = "sip"  # sip | twilio
    reminder_retry_seconds: list[int] = Field(default_factory=lambda: [300, 600])
    urge_at_fractions: list[float] = Field(default_factory=lambda: [0.75, 1.0])
    urges_before_superior: int = 2
    survey_retry_seconds: list[int] = Field(default_factory=lambda: [1800, 7200])
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    survey_daily_cap: int = 2
    poll_seconds: float = 1.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str = f"sqlite:///{PROJECT_DIR / 'var' / 'hotline.db'}"
    data_dir: Path = PROJECT_DIR / "var"
    recordings_dir: Path = PROJECT_DIR / "var" / "recordings"
    timezone: str = "Asia/Shanghai"
    host: str = "127.0.0.1"
    port: int = 8000
    log_json: bool = False
    max_body_bytes: int = 64 * 1024
    rules_file: Path = CONFIG_DIR / "dispatch_rules.toml"
    classification_file: Path = CONFIG_DIR / "classification.toml"
    holidays_file: Path = CONFIG_DIR / "holidays.toml"
    prompts_dir: Path = CONFIG_DIR / "prompts"

    deadlines: DeadlineSettings = DeadlineSettings()
    duplicates: DuplicateSettings = DuplicateSettings()
    asr: AsrSettings = AsrSettings()
    sip: SipSettings = SipSettings()
    twilio: TwilioSettings = TwilioSettings()
    outbound: OutboundSettings = OutboundSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("HOTLINE_CONFIG_FILE", CONFIG_DIR / "hotline.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
