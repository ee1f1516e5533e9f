"""The documents' own numbers, as data (the only numbers typed by hand in this project).

One CSV per document under this folder, long format, one value per row, columns:

    source_file  the document in ../shared/papers (e.g. 000_83d6762adc60c903.txt)
    table        table or figure id as the document prints it ("Table 1", "Fig. 4", "text 3.1")
    dataset      Set5, Set14, B100, Urban100, DIV2K-val, ... ("-" when not applicable)
    scale        2, 3, 4, ... ("-" when not applicable)
    model        SRCNN, VDSR, LapSRN, EDSR-baseline, ...
    method       what is compared: baseline, PSPL, bicubic, +FD Loss, ...
    metric       PSNR, SSIM, params, mult_adds, epochs_to_threshold, ...
    value        the number exactly as printed (units in ``metric``)
    note         anything the reader should know (e.g. "extraction shifted this row")

Use :func:`load` to read one document's table as a DataFrame.
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
COLUMNS = ["source_file", "table", "dataset", "scale", "model", "method", "metric", "value", "note"]


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.csv"))


def load(doc: str, table: str | None = None):
    """Rows of ``srlib/papers/<doc>.csv`` (optionally one table) as a pandas DataFrame."""
    import pandas as pd

    path = HERE / f"{doc}.csv"
    if not path.exists():
        raise FileNotFoundError(f"no paper table file {path}; available: {', '.join(available()) or '(none)'}")
    df = pd.read_csv(path, dtype={"scale": str, "note": str}, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {COLUMNS}")
    df["value"] = pd.to_numeric(df["value"])
    if table is not None:
        df = df[df["table"] == table]
        if df.empty:
            raise KeyError(f"{path} has no rows for table {table!r}")
    return df.reset_index(drop=True)
