"""Rendering, kept apart from counting: rich tables for terminals, JSON/CSV/Markdown for scripts."""
