"""Starting a newsletter: a new working folder (`init`) and a new item file (`new`).

Takes a folder, a name, a sender and themes; gives a folder that builds and sends into
the local outbox at once (folder.py). Takes a title and the config; gives an item file
with every field, ready to edit (item.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.start.folder import _STARTERS, DEFAULT_THEMES, FolderPlan, default_name, init_folder
    from newsletter.start.item import item_template, new_item

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "_STARTERS": "newsletter.start.folder",
    "default_name": "newsletter.start.folder",
    "DEFAULT_THEMES": "newsletter.start.folder",
    "FolderPlan": "newsletter.start.folder",
    "init_folder": "newsletter.start.folder",
    "item_template": "newsletter.start.item",
    "new_item": "newsletter.start.item",
}

__all__ = [
    "_STARTERS",
    "default_name",
    "DEFAULT_THEMES",
    "FolderPlan",
    "init_folder",
    "item_template",
    "new_item",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
