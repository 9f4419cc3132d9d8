"""newsletter: build, preview and send a monthly email digest.

`load_face` is how a stage's face (`newsletter/<stage>/__init__.py`) hands out its names
lazily. Each face lists its public names in a table, name -> the module that defines it, and its
module `__getattr__` (PEP 562) calls `load_face` on the first use of a name: only then is
that module imported. So `import newsletter.issue` costs nothing, and `from
newsletter.issue import Item` loads the item model without the renderer's premailer or
the link prober's httpx. Faces also import their names under `TYPE_CHECKING`, which is
what mypy reads; tests/test_layers.py checks that the two lists agree.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping


def load_face(face: str, exports: Mapping[str, str], name: str) -> object:
    """Import `name` for the face `face` from the module `exports` names, and keep it there.

    Unknown names raise AttributeError, as a plain module would, so `hasattr`, `from face
    import submodule` and `getattr(face, name, default)` keep their usual meaning.
    """
    module = exports.get(name)
    if module is None:
        raise AttributeError(f"module {face!r} has no attribute {name!r}")
    # __import__ rather than importlib.import_module: it is the import statement's own path,
    # so `python -X importtime` lists the modules a face loads.
    __import__(module)
    value = getattr(sys.modules[module], name)
    setattr(sys.modules[face], name, value)  # the next lookup finds it without __getattr__
    return value


__version__ = "0.1.0"
