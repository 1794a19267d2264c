"""Synthesis of domains from public tool collections: ingest, the tool graph, communities,
a spec per community, and verification before a domain is kept (see docs/design.md)."""
