"""The content of a small layer: a module functions can import."""

GREETING = "hello from the layer"
