"""Per-chapter orchestration that the chapter notebooks call (generic pieces live in srlib.convergence, srlib.viz, srlib.runs, srlib.profiles)."""
