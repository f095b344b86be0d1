"""mask_overlap.png: where the chosen subnets share, as a heatmap of the mask overlap |∩| / |∪| with one row per
part of the encoder (an LSTM weight's gate blocks per direction, the char CNN, ...; last the whole encoder, below
a line) and one column per pair of tasks and all of them, each cell labelled with its ratio (grey, "—", where no
task of the group keeps a weight of the part); the colour scale spans 0 to 1 whatever the values, so that two runs'
figures compare."""
from typing import TYPE_CHECKING

from utils.report.figures import new_figure
from utils.report.layers import Subnets, overlap_grid

ROW_INCHES = 0.28                 # height of one part's row
COLUMN_INCHES = 0.9               # width of one task group's column
MARGIN_INCHES = (3.8, 1.6)        # room for the part names and the colour bar; for the title and group names
COLOURS = "viridis"
UNDEFINED = "lightgrey"           # a cell whose part no task of the group keeps any weight of

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def overlap_heatmap(subnets: Subnets) -> "Figure | None":
    """The heatmap of the subnets' overlap per part and task group; None with fewer than two tasks (no group)."""
    from matplotlib import colormaps

    rows, groups, values = overlap_grid(subnets)
    if not groups:
        return None
    figure, [ax] = new_figure(1)
    figure.set_size_inches(MARGIN_INCHES[0] + COLUMN_INCHES * len(groups), MARGIN_INCHES[1] + ROW_INCHES * len(rows))
    cells = [[float("nan") if v is None else v for v in row] for row in values]
    image = ax.imshow(cells, vmin=0.0, vmax=1.0, cmap=colormaps[COLOURS].with_extremes(bad=UNDEFINED), aspect="auto")
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows, fontsize="small")
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            ax.text(j, i, "—" if value is None else f"{value:.2f}", ha="center", va="center", fontsize="x-small",
                    color="white" if value is not None and value < 0.5 else "black")
    ax.axhline(len(rows) - 1.5, color="white", linewidth=2)
    ax.set_title("mask overlap |∩| / |∪| per part")
    figure.colorbar(image, ax=ax, label="overlap ratio")
    return figure
