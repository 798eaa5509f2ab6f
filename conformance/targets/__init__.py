"""Targets: the declaration of an ECS or EES under test, and how to reach it."""
