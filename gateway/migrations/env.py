from alembic import context

from gateway.models import metadata
from kit.migrations import run_env

run_env(context, metadata)
