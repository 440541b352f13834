"""Tables of the routes service; all live in the `routes` schema."""

from kit.db import schema_metadata

SCHEMA = "routes"
metadata = schema_metadata(SCHEMA)
