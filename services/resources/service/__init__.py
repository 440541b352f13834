"""The work of each operation of the resources service, one module per sub-domain.

Functions take the session, clients and settings as arguments and never commit: the request's
session dependency commits once the router has answered.
"""
