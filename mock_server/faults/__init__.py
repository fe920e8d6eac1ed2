"""Faults: rules and their book, canned responses, task effects, transport tricks."""
