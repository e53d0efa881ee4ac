"""Hardware: the simulated 82599 testbed (driver.sim) and the real AF_XDP driver (driver.xdp)."""
import os

# The simulator is single-threaded C; OpenBLAS worker threads (loaded with
# numpy) would only spin beside it on the cores it runs on.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
