"""Late import of DGL, so that ``import deepgnn`` never loads it."""

from __future__ import annotations

import os
from typing import Any


def import_dgl() -> Any:
    """Return the ``dgl`` module or raise an ``ImportError`` that names the extra to install."""
    os.environ.setdefault("DGLBACKEND", "pytorch")
    try:
        import dgl
    except (ImportError, OSError) as err:
        raise ImportError(
            "backend='dgl' needs DGL 1.1.3 (Python <= 3.11): pip install 'deepgnn[dgl]', "
            "or use backend='torch', which computes the same model"
        ) from err
    return dgl
