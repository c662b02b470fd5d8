"""Records: the handoff store, the contact log, redaction, reports and retention."""
