"""Subcommand groups of the ``aragora-redis`` command, one module each.

A group module defines ``register(subparsers)``, which adds its parser(s) and
sets ``run=<function(args, console) -> exit status>`` as the parser default.
"""
