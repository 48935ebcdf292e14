"""Helpers shared by the tests of several components: stand-in clients, Lambda events, the
fault proxy's steering, and the job and title fixtures (imported by the conftests that use them)."""
