"""Reporting: results.json, the summary table, and the views drawn from them."""
