from pathlib import Path

from kit.cli import service_main
from services.routes.config import RoutesSettings

if __name__ == "__main__":
    service_main(
        settings_factory=RoutesSettings,
        app_factory="services.routes.app:create_app",
        migrations_dir=Path(__file__).parent / "migrations",
    )
