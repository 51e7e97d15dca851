"""Server settings: defaults from `trainer.paths()`, then an optional TOML file, then the environment.

Precedence (highest first): constructor arguments, environment variables, the file named by `W2S_CONFIG`,
defaults. Shared keys sit at the top of the file; a server's own keys sit in its table (`[grader]`):

    # w2s.toml
    replica_url = "s3://my-bucket/w2s"      # W2S_REPLICA_URL
    [grader]
    public_fraction = 0.5                  # W2S_GRADER_PUBLIC_FRACTION

Shared variables: W2S_STATE_DIR (via trainer.paths), W2S_TOKEN, W2S_REPLICA_URL, W2S_REPLICA_ENDPOINT,
W2S_REPLICA_REGION, W2S_REPLICA_FORCE_PATH_STYLE, W2S_LITESTREAM, W2S_MAX_REQUEST_BYTES, W2S_CORS_ORIGINS. S3
credentials are never
settings: litestream and boto3 read the operator's AWS_* environment. A server subclass sets `env_prefix="W2S_<NAME>_"` and `config_section="<name>"`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from trainer import paths

CONFIG_ENV = "W2S_CONFIG"


class _TomlSource(PydanticBaseSettingsSource):
    """Top-level keys plus the server's own table of the file named by `W2S_CONFIG`."""

    def __init__(self, settings_cls: type[BaseSettings], section: str | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        path = os.environ.get(CONFIG_ENV)
        if not path:
            return
        raw = tomllib.loads(Path(path).expanduser().read_text())
        self._data = {k: v for k, v in raw.items() if not isinstance(v, dict)}
        if section and isinstance(raw.get(section), dict):
            self._data.update(raw[section])

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class ServerSettings(BaseSettings):
    """Settings every server shares; subclass it for a server's own keys."""

    model_config = SettingsConfigDict(env_prefix="W2S_", extra="ignore", populate_by_name=True)
    config_section: ClassVar[str | None] = None

    state_dir: Path = Field(
        default_factory=lambda: paths().state_dir,
        validation_alias=AliasChoices("state_dir", "W2S_STATE_DIR"),
        description="Databases, the tokens db and local litestream replicas (operator side only).",
    )
    token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("token", "W2S_TOKEN"),
        description="Bearer token that identifies the caller of a stdio server (checked once at start).",
    )
    replica_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("replica_url", "W2S_REPLICA_URL"),
        description="Base litestream replica URL (s3://bucket/prefix); default file://<state_dir>/replicas.",
    )
    replica_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("replica_endpoint", "W2S_REPLICA_ENDPOINT"),
        description="Endpoint of an S3-compatible server (MinIO, R2, moto: http(s)://host:port); none for AWS.",
    )
    replica_region: str | None = Field(
        default=None,
        validation_alias=AliasChoices("replica_region", "W2S_REPLICA_REGION"),
        description="Region of the replica bucket (e.g. us-east-1).",
    )
    replica_force_path_style: bool | None = Field(
        default=None,
        validation_alias=AliasChoices("replica_force_path_style", "W2S_REPLICA_FORCE_PATH_STYLE"),
        description="Address buckets as endpoint/bucket/key (most S3-compatible servers need it).",
    )
    litestream: bool = Field(
        default=True,
        validation_alias=AliasChoices("litestream", "W2S_LITESTREAM"),
        description="Run `litestream replicate` beside the server's database while it serves.",
    )
    max_request_bytes: int = Field(
        default=12 * 1024 * 1024,
        validation_alias=AliasChoices("max_request_bytes", "W2S_MAX_REQUEST_BYTES"),
        description="HTTP bodies above this size are refused with 413 before any tool runs (one limit for every "
                    "body; the inline snapshot cap, 8 MiB, is sized so its base64 fits).",
    )

    # NoDecode: the environment gives a comma-separated list, not the JSON pydantic-settings expects of a list.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        validation_alias=AliasChoices("cors_origins", "W2S_CORS_ORIGINS"),
        description="Browser origins (scheme://host[:port], comma-separated) allowed to call the HTTP server "
                    "cross-origin, e.g. http://localhost:6274 for the MCP Inspector; empty (default): no CORS.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlSource(settings_cls, cls.config_section)

    tokens_db_path: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("tokens_db_path", "W2S_TOKENS_DB"),
        description="The shared tokens db (hashes only); default <state_dir>/tokens.db. Compute servers, which do "
                    "not see the trusted state, point here at a volume of their own.",
    )

    @property
    def tokens_db(self) -> Path:
        """The shared tokens database (hashes only)."""
        return self.tokens_db_path or self.state_dir / "tokens.db"

    def db_path(self, server: str) -> Path:
        return self.state_dir / f"{server}.db"

    @field_validator("replica_url")
    @classmethod
    def _replica_url_ok(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("s3", "file"):
            raise ValueError(f"replica_url must be s3://bucket/prefix or file:///path, got scheme {parts.scheme!r}")
        # A URL is logged and shown by `replica where`; keys in it would leak. Credentials come from AWS_*.
        secret = [k for k, _ in parse_qsl(parts.query) if "key" in k.lower() or "secret" in k.lower()]
        if parts.username or parts.password or secret:
            raise ValueError("replica_url must not carry credentials; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                             "in the operator's environment instead")
        if parts.scheme == "s3" and not parts.hostname:
            raise ValueError(f"replica_url {value!r} names no bucket (s3://bucket/prefix)")
        return value

    @field_validator("replica_endpoint")
    @classmethod
    def _endpoint_ok(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith(("http://", "https://")) or "@" in value):
            raise ValueError(f"replica_endpoint must be http(s)://host[:port] without credentials, got {value!r}")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_ok(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_origin(entry) for entry in value))

    def replica_for(self, server: str) -> str:
        """Litestream replica URL of one server's database: `<replica_url>/<server>`, with the endpoint settings
        as the query parameters litestream 0.5 reads (endpoint, region, forcePathStyle)."""
        if not self.replica_url:
            return (self.state_dir / "replicas" / server).as_uri()
        parts = urlsplit(self.replica_url)
        query = dict(parse_qsl(parts.query))
        if parts.scheme == "s3":
            extra = {"endpoint": self.replica_endpoint, "region": self.replica_region,
                     "forcePathStyle": None if self.replica_force_path_style is None
                     else str(self.replica_force_path_style).lower()}
            query |= {k: v for k, v in extra.items() if v is not None}
        path = parts.path.rstrip("/") + "/" + server
        return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query, safe=":/"), ""))


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(entry: str) -> str:
    """One allowed origin as a browser serialises its Origin header (lower case, no default port), so an exact
    comparison with that header is the whole check."""
    if entry == "*":
        raise ValueError("cors_origins (W2S_CORS_ORIGINS) refuses '*': these servers hold bearer-token data, so list "
                         "each browser origin allowed to call them (e.g. http://localhost:6274 for the MCP Inspector)")
    how = "must be scheme://host[:port] (http or https, no path, query or credentials), e.g. http://localhost:6274"
    parts = urlsplit(entry)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"cors_origins entry {entry!r} {how}: bad port") from None
    scheme = parts.scheme.lower()
    if (scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path or parts.query or parts.fragment
            or "@" in parts.netloc or entry != entry.strip() or "*" in entry):
        raise ValueError(f"cors_origins entry {entry!r} {how}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}")
