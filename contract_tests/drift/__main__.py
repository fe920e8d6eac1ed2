"""``python -m contract_tests.drift``: the same as ``suno-contract drift``."""

from .check import main

raise SystemExit(main())
