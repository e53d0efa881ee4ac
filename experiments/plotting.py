"""The figures' common shape: drop rate (%) against one parameter, a line
per engine configuration, written atomically (experiments/results.py)."""
from __future__ import annotations

import pandas as pd


def axes(ncols: int = 1, width: float = 7.0, height: float = 4.2, sharey: bool = False):
    """A figure with `ncols` axes side by side, drawn off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, ncols, figsize=(width * ncols if ncols > 1 else width, height), sharey=sharey,
                           squeeze=False)
    return fig, list(ax[0])


def drop_lines(ax, df: pd.DataFrame, x: str, group: str = "engine_label", ms: float = 4) -> None:
    """One line of drop rate (%) against column `x` per value of `group`."""
    for label, g in df.groupby(group, sort=False):
        g = g.sort_values(x)
        ax.plot(g[x], 100 * g["drop_rate"], marker="o", ms=ms, label=label)
    ax.set_ylabel("packet drop rate (%)")
    ax.grid(True, which="both", alpha=0.3)


def save(fig, path) -> None:
    import matplotlib.pyplot as plt

    from experiments.results import write_figure

    write_figure(path, fig)
    plt.close(fig)
