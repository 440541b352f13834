"""Settings of the gateway (env prefix GATEWAY_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.settings import ServiceSettings

# First path segment after /api/v1/ -> the service that owns it. Services keep their paths
# under these segments; the merged OpenAPI test checks that they do.
DEFAULT_ROUTES: dict[str, str] = {
    # assessment
    "teachers": "assessment",
    "municipalities": "assessment",
    "organisations": "assessment",
    "frameworks": "assessment",
    "campaigns": "assessment",
    "results": "assessment",
    "assessment": "assessment",
    # resources
    "resources": "resources",
    "mentors": "resources",
    "matching": "resources",
    "reservations": "resources",
    "resource-map": "resources",
    "active": "resources",
    # routes
    "routes": "routes",
    "exports": "routes",
    "webhooks": "routes",
    # audit
    "audits": "audit",
    "monitoring": "audit",
    "kpi": "audit",
    "effectiveness": "audit",
    "checklists": "audit",
}


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    name: str = "gateway"
    port: int = 8000
    # Its database work is API-key look-ups (cached): a smaller pool than a service's.
    db_pool_size: int = 5
    db_max_overflow: int = 5
    assessment_url: str = "http://127.0.0.1:8001"
    resources_url: str = "http://127.0.0.1:8002"
    routes_url: str = "http://127.0.0.1:8003"
    audit_url: str = "http://127.0.0.1:8004"
    routes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ROUTES))
    # Deadline for an upstream's answer (headers); bodies then stream with the same read timeout.
    upstream_timeout_seconds: float = 30.0
    # Uploads are parsed and stored before the service answers: a large one takes minutes.
    upload_timeout_seconds: float = 600.0
    connect_timeout_seconds: float = 2.0
    upstream_connections: int = 200
    # Uploads stream through; this is the gateway's own ceiling (services set tighter ones).
    max_body_bytes: int | None = 1_048_576
    upload_max_body_bytes: int = 256 * 1024 * 1024
    upload_path_suffixes: list[str] = Field(
        default_factory=lambda: ["/bulk", "/results", "/import", "/uploads", "/scores", "/assignments", "/batch"]
    )
    api_key_cache_seconds: float = 5.0
    openapi_cache_seconds: float = 30.0

    # Rate limits ("<n>/<second|minute|hour>", several joined by ";"; an empty string turns one off).
    # In-process counters ("memory://"): each gateway replica counts its own; "redis://host" shares them.
    rate_limit_storage: str = "memory://"
    # Every request that is not a service's own, counted per client IP and per person or API key.
    rate_limit_per_ip: str = "50/second;1200/minute"
    rate_limit_per_principal: str = "20/second;600/minute"
    # Failed credential checks (bad token, unknown key) per client IP; past it, no look-up is made (429).
    rate_limit_failed_auth_per_ip: str = "30/minute"
    # Expensive operations ("METHOD /api/v1/path" as in data/scopes.json) per principal, and uploads.
    rate_limit_operations: dict[str, str] = Field(
        default_factory=lambda: {
            "POST /api/v1/matching/batch": "10/minute",
            "POST /api/v1/matching": "60/minute",
            "GET /api/v1/effectiveness": "10/minute",
            "POST /api/v1/routes/generate": "5/minute",
            "GET /api/v1/exports/monthly": "5/minute",
        }
    )
    rate_limit_uploads: str = "20/minute"
    # Peers whose X-Forwarded-For is believed (the ingress); from anyone else it is dropped.
    trusted_proxies: list[str] = Field(default_factory=list)

    def is_upload(self, path: str) -> bool:
        return path.startswith("/api/v1/") and path.rstrip("/").endswith(tuple(self.upload_path_suffixes))

    def upstreams(self) -> dict[str, str]:
        return {
            "assessment": self.assessment_url.rstrip("/"),
            "resources": self.resources_url.rstrip("/"),
            "routes": self.routes_url.rstrip("/"),
            "audit": self.audit_url.rstrip("/"),
        }
