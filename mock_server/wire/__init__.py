"""The gateway's wire: Go JSON, gin binding, error envelopes, request reading."""
