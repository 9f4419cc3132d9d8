"""Starting a newsletter: a new working folder (`init`) and a new item file (`new`).

Takes a folder, a name, a sender and themes; gives a folder that builds and sends into
the local outbox at once (folder.py). Takes a title and the config; gives an item file
with every field, ready to edit (item.py).
"""

from __future__ import annotations

from newsletter.start.folder import FolderPlan, StartedFolder, init_folder
from newsletter.start.item import new_item

__all__ = ["FolderPlan", "StartedFolder", "init_folder", "new_item"]
