"""Peers the harness plays: the fake EEC, the fake ECS token issuer, and their test PKI."""
