"""Event builders for every trigger: the payloads Lambda hands a handler, with sensible defaults and
overrides, valid against the real shapes (one module per event source)."""
