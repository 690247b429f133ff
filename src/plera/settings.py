"""Settings, read from the environment with the prefix PLERA_."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLERA_", extra="ignore")

    database_url: str | None = None
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("plera")))
    kafka_bootstrap: str | None = None
    kafka_group: str = "plera-projections"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    # Unset: the clock the database keeps (see plera.clock.choose_clock_mode), else the system clock.
    clock: Literal["system", "simulated"] | None = None
    env: Literal["dev", "production"] = "dev"
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    openai_model: str = "gpt-4o-mini"
    # A CSV import larger than this (rows, or bytes) runs as a job (decision 0016); smaller ones answer at once.
    import_job_rows: int = Field(default=1000, ge=1)
    import_job_bytes: int = Field(default=1024 * 1024, ge=1024)

    def check(self) -> None:
        """Refuses combinations that are unsafe outside development."""
        if self.env == "production":
            if self.clock == "simulated":
                raise ValueError("the simulated clock is refused in production mode (PLERA_CLOCK=simulated)")
            if not self.public_url.startswith("https://"):
                raise ValueError("PLERA_PUBLIC_URL must be https in production mode")
            if not self.secret_key:
                raise ValueError("PLERA_SECRET_KEY is required in production mode")
