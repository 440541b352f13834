from alembic import context

from kit.migrations import run_env
from services.routes.models import metadata

run_env(context, metadata)
