"""newsletter: build, preview and send a monthly email digest."""

__version__ = "0.1.0"
