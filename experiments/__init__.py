"""The paper's experiments, its tools (experiments/tools) and the harness around them."""
import os

# Points run in parallel processes, one per core; OpenBLAS worker threads
# (loaded with numpy) would only spin beside them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
