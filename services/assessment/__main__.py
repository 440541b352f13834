from pathlib import Path

from kit.cli import service_main
from services.assessment.config import AssessmentSettings

if __name__ == "__main__":
    service_main(
        settings_factory=AssessmentSettings,
        app_factory="services.assessment.app:create_app",
        migrations_dir=Path(__file__).parent / "migrations",
    )
