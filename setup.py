"""Packages are found, not listed: a new folder under ``suites/`` (or ``conformance/``) ships with no edit here.

Everything else about the distribution is in pyproject.toml. The suites install as
``conformance_suites`` (``suites/`` in the source tree), so an installed harness can run them.
"""

from setuptools import find_packages, setup

suites = ["conformance_suites", *(f"conformance_suites.{name}" for name in find_packages("suites"))]
setup(packages=[*find_packages(include=["conformance", "conformance.*"]), *suites])
