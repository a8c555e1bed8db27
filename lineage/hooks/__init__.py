"""Git hooks: thin shell shims in the hooks directory call ``lineage.hooks.dispatch.main``.

``install`` writes and removes the shims; ``dispatch`` finds the repository and runs one hook;
``quick`` proves with the standard library that most commits have nothing to refuse and
``pre_commit`` does the full checks when it cannot; ``post_commit`` attaches runs made on a
dirty tree to the commit that now holds their code. The pre-push checks live with ``push`` in
``lineage.commands.sync``. A hook process never imports click, mlflow, dvc or networkx.
"""

from __future__ import annotations

HOOK_TYPES = ("pre-commit", "post-commit", "pre-push", "post-checkout")
DEFAULT_HOOKS = ("pre-commit", "post-commit", "pre-push")
