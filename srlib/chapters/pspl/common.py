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
