"""The work of each audit-service operation, one module per sub-domain (routers call these; nothing here commits)."""
