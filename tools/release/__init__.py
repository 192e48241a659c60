"""Shipping an image change to an environment: everything ``bump``, ``promote`` and ``diff`` do.

- :mod:`~tools.release.images`: image references (``name[:tag][@digest]``) and their grammar.
- :mod:`~tools.release.kustomization`: read and edit the ``images:`` list in place.
- :mod:`~tools.release.git`, :mod:`~tools.release.github`: the git CLI and the GitHub REST calls.
- :mod:`~tools.release.renderdiff`: per-object diff of two kustomize renders.
- :mod:`~tools.release.config`, :mod:`~tools.release.options`: repository settings and flags.
- :mod:`~tools.release.ship`: the one flow (worktree, render, validate, push or pull request);
  :mod:`~tools.release.bump` and :mod:`~tools.release.promote` build the change it ships.
"""
