"""Every query of the assessment service, one module per repository."""
