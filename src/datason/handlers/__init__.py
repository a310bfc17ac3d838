"""Type handlers, one module per library; ``builtins`` is always loaded, the others lazily.

``kit`` holds the helpers for writing one (registration, payload checks, base64, zones, plain frames);
``registry.LIBRARIES`` lists when each lazily loaded module is imported.
"""
