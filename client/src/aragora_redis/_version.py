"""The package's version, its one source: hatch reads it, the package re-exports it.

A module of its own so that package modules can name the version without importing
the package itself (which imports them: an import cycle).
"""

__version__ = "0.1.0"
