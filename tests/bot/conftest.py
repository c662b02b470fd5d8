"""The trained risk model fixtures, shared with the component tests."""

from tests.knowledge.risk.conftest import assessor, risk_model  # noqa: F401
