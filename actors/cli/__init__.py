"""The ``kubetwin`` command (click: a well-kept argument parser, never our own)."""

from ._main import main

__all__ = ["main"]
