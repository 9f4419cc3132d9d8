"""Starting a newsletter: a new working folder (`init`) and a new item file (`new`).

Takes a folder, a name, a sender and themes; gives a folder that builds and sends into
the local outbox at once (folder.py). Takes a title and the config; gives an item file
with every field, ready to edit (item.py).
"""

__all__: list[str] = []
