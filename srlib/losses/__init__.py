"""Training losses, one file per family, one registry (``LOSSES``).

A loss is a :class:`LossHook`: an ``nn.Module`` called once per training iteration as
``loss, logs = hook(model, batch, iteration)``. It runs the model itself, so it can use
per-level outputs (LapSRN), auxiliary heads (FD loss) or a discriminator with its own
optimizer (GAN). Any state it keeps (PSPL's step, a discriminator) lives in its
``state_dict()`` (buffers, parameters, or ``get_extra_state``), which the Trainer checkpoints.

``batch`` is a dict with at least ``"lr"`` and ``"hr"``: float32 (N, C, H, W) tensors in [0, 1]
(see :mod:`srlib.conventions`).

**Who trains what.** Two kinds of extra parameters, two owners:

* *Trained jointly with the SR network* (e.g. the classification heads of a fine-grained loss,
  which get the same gradient step as the network): they belong to **the model**. They are in
  ``model.parameters()``, trained by the Trainer's optimizer (and its phases, schedule and
  clipping), and saved in the model's state. The hook reaches them through the ``model``
  argument (``model.head``), never as its own submodule.
* *A hook's own networks* (e.g. a GAN discriminator, trained against the SR network): they
  belong to **the hook** and are trained only by the hook's own optimizer, created in the hook's
  ``__init__`` and stepped inside ``forward``. The hook checkpoints that optimizer with itself:
  ``get_extra_state()`` returns ``{"optimizer": self.opt.state_dict()}`` and
  ``set_extra_state(state)`` loads it (the parameters are in ``state_dict()`` already).

The Trainer's optimizer never sees a hook's parameters. :class:`srlib.train.Trainer` refuses (a
``ValueError`` at construction) a hook that holds a parameter of the model, and a hook with
trainable parameters but no ``get_extra_state`` (its optimizer's state would be lost on resume;
freeze parameters that are not trained, e.g. a fixed feature network, with ``requires_grad_(False)``).
Kill and resume of both kinds is tested in ``tests/test_resume.py``.
"""
from __future__ import annotations

from srlib.registry import Registry

LOSSES = Registry("loss")


def build(name: str, **kwargs):
    """Build a registered loss hook by name, e.g. ``build("pspl", base="l1")``."""
    _import_all()
    return LOSSES.build(name, **kwargs)


def _import_all():
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
