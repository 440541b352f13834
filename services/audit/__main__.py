from pathlib import Path

from kit.cli import service_main
from services.audit.config import AuditSettings

if __name__ == "__main__":
    service_main(
        settings_factory=AuditSettings,
        app_factory="services.audit.app:create_app",
        migrations_dir=Path(__file__).parent / "migrations",
    )
