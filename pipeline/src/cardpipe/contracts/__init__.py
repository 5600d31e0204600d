"""Event contracts: the registry of event types, exact money, and the decode/validate core."""
