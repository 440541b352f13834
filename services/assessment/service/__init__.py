"""The work of each assessment operation, one module per sub-domain.

Functions take the session (and settings) as arguments and never commit: the request's session
dependency commits once, after the router returns. Queries are in `repositories/`, rules in pure modules.
"""
