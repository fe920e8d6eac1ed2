"""The mock service: submit, fetch and admin operations over a store, free of HTTP."""

from mock_server.service.mock_service import MockService

__all__ = ["MockService"]
