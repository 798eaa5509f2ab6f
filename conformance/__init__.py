"""Conformance harness for 3GPP TS 33.558 clauses 6.2 and 6.3 (EEC authentication and
authorization at the ECS and the EES)."""

__version__ = "0.2.0"
