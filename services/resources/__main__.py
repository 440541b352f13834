from pathlib import Path

from kit.cli import service_main
from services.resources.config import ResourcesSettings

if __name__ == "__main__":
    service_main(
        settings_factory=ResourcesSettings,
        app_factory="services.resources.app:create_app",
        migrations_dir=Path(__file__).parent / "migrations",
    )
