"""What the PSPL notebooks share: the chapter key, the test sets, same-loss duplicates, where results go."""
from __future__ import annotations

import json
from collections.abc import Mapping

CHAPTER = "pspl"
SETS = ["Set5", "Set14", "B100", "Urban100"]


def same_loss_duplicates(configs: Mapping[str, dict]) -> dict[str, str]:
    """``{label: first label with the same loss}`` for every label whose config's loss repeats an earlier one.

    At the paper profile "PSPL, step matched" is the authors' step: one run, shown once.
    """
    seen, dup = {}, {}
    for label, c in configs.items():
        loss = json.dumps(c["loss"], sort_keys=True)
        if loss in seen:
            dup[label] = seen[loss]
        else:
            seen[loss] = label
    return dup


def training_compute(runs) -> str:
    """The training compute of ``runs`` from their own records (``final.json`` seconds x threads), e.g.
    ``"9 runs, 1.43 CPU-hours of training (CPU, 1 thread, torch 2.14.1 (9 runs))"``."""
    from srlib import viz

    finals = [r.final for r in runs]
    cpu_s = sum(float(f.get("seconds", 0.0)) * int(f.get("threads") or 1) for f in finals)
    return f"{len(finals)} runs, {cpu_s / 3600:.2f} CPU-hours of training ({viz.run_hardware(finals)})"
