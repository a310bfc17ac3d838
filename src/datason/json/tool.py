"""``python -m datason.json.tool``: the standard ``json.tool`` command line under datason.json's name.

It reads and writes JSON text only, so datason's plain forms never apply; ``main`` is
``json.tool``'s own, run the way ``python -m json.tool`` runs it.
"""

from __future__ import annotations

import sys
from json.tool import main

__all__ = ["main"]

if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError as exc:
        sys.exit(exc.errno)
