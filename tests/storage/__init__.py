"""Conformance suites of the other storage domains (workflows, scores, observability) and the
composite store: one suite per port, run unchanged against every backend."""
