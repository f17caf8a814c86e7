"""Mappings: how each client's exports become the common schema (spec, units, expressions, compiler)."""
