"""Check every parameter-count and depth cell of the papers against this project's models.

MemNet Tables 2 and 6 and NLRN Table 3 print model sizes and depths. Each cell is matched to a
registry model (``architecture_claims.yaml``), the model is built, and its conv-weight count and
paper-defined depth are compared with the printed value, in the shared summary shape.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from reprolib import claims, models

CLAIMS_MAP = Path(__file__).with_name("architecture_claims.yaml")
# Printed counts are rounded to thousands ("677K"): half a thousand either way is a match.
TOLERANCE = {"params": 500.0, "depth": 0.0}


def check() -> pd.DataFrame:
    """One row per (paper, table, method, metric) size claim with claimed, measured and diff."""
    rows = []
    for entry in yaml.safe_load(CLAIMS_MAP.read_text()):
        model = models.build(entry["model"], **entry.get("kwargs", {}))
        measured = {"params": models.conv_weight_params(model), "depth": models.model_depth(model)}
        for metric, value in measured.items():
            rows.append(
                {
                    "paper": entry["paper"], "table": entry["table"], "dataset": "-",
                    "setting": "-", "method": entry["method"], "metric": metric,
                    "measured": float(value), "n_images": 0, "model": entry["model"],
                    "kwargs": str(entry.get("kwargs", {})),
                }
            )  # fmt: skip
    measured = pd.DataFrame(rows)
    out = claims.compare(measured)
    out = out[out["claimed"].notna()].copy()
    extra = measured.set_index(claims.KEY_COLUMNS)[["model", "kwargs"]]
    out = out.join(extra, on=claims.KEY_COLUMNS)
    out["tolerance"] = out["metric"].map(TOLERANCE)
    out["within_tolerance"] = out["diff"].abs() <= out["tolerance"]
    out["budget"] = claims.NO_TRAINING
    return out.reset_index(drop=True)
