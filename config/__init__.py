"""Configuration: one typed settings object plus the data files beside this module."""

from config.settings import CONFIG_DIR, ConfigError, Settings, get_settings

__all__ = ["CONFIG_DIR", "ConfigError", "Settings", "get_settings"]
