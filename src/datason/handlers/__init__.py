"""Type handlers, one module per library; ``builtins`` is always loaded, the others lazily."""
