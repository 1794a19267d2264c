"""`envscale view`: trajectories browsed in one self-contained HTML page (docs/design.md).

`data.build` gathers what the page shows from a trajectories file, its tasks and specs
(`diffs` replays episodes for their final state); `page.render` writes the page.
"""

from envscale.viewer.data import PageData, Sources, build
from envscale.viewer.page import render, write

__all__ = ["PageData", "Sources", "build", "render", "write"]
