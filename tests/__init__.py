"""Test packages; this file makes pytest name them tests.<area> (tests/outbound would
otherwise be imported as a top-level ``outbound`` and shadow the real package)."""
