"""The embedded reference ECS and EES: correct to the spec, with named faults.

The reference is an independent implementation, and it keeps its own copies of what the harness
also knows (the GPSI pattern in ``policy.py``, token verification in ``tokens.py``, media types,
API paths, ProblemDetails): a bug in the harness's checking code must not be able to hide the
same bug in the server it is checked against, and the other way round. So nothing here imports
``conformance.checks`` or ``conformance.issued_tokens``; ``tests/test_architecture.py`` keeps it that way.
What the reference shares with the harness is only the neutral plumbing: the PKI material it is
provisioned with and the target model it writes its declarations in.
"""
