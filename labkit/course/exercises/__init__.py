"""The exercises of every chapter: one module per chapter (`chNN.py`), loaded by the registry on first use."""
