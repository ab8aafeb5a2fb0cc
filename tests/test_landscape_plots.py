"""The landscape/curvature figures draw what they are given."""

import numpy as np

from losslab import make_objective
from losslab.curvature import slq_density
from losslab.landscape import grid2d, min_eigenvalue_map, slice_1d, slice_2d
from losslab.plots.landscape import (
    plot_landscape,
    plot_min_eigenvalue,
    plot_slice_1d,
    plot_slice_2d,
    plot_spectral_density,
)


def test_landscape_figure_with_trajectories(tmp_path):
    obj = make_objective("gabor")
    land = grid2d(obj, (-10, 10), (2.5, 22.5), 21)
    traj = np.array([[-1.5, 8.5], [-1.0, 9.0], [0.0, 12.0]])
    fig = plot_landscape(land, {"gd": traj, "sgd": traj + 0.5})
    ax = fig.axes[0]
    drawn = [line for line in ax.lines if len(line.get_xdata()) == 3]
    np.testing.assert_array_equal(drawn[0].get_xdata(), traj[:, 0])
    np.testing.assert_array_equal(drawn[1].get_ydata(), traj[:, 1] + 0.5)
    img = ax.images[0].get_array()
    np.testing.assert_allclose(img, np.log10(land.loss))
    fig.savefig(tmp_path / "land.png")
    assert (tmp_path / "land.png").stat().st_size > 5000


def test_other_figures(tmp_path):
    obj = make_objective("gabor")
    emap = min_eigenvalue_map(obj, (-10, 10), (2.5, 22.5), 15)
    fig = plot_min_eigenvalue(emap)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), emap.min_eigenvalue)
    shallow = make_objective("shallow")
    p = np.array([-0.3, 2.0, -1.0, 7.0, 0.3, -1.0, -1.0, 2.0, -0.5, 0.65])
    s1 = slice_1d(shallow, p, np.eye(10)[1], resolution=7)
    fig1 = plot_slice_1d(s1)
    np.testing.assert_array_equal(fig1.axes[0].lines[0].get_ydata(), s1.loss)
    s2 = slice_2d(shallow, p, np.eye(10)[0], np.eye(10)[1], resolution=6)
    plot_slice_2d(s2).savefig(tmp_path / "s2.png")
    dens = slq_density(shallow, p, vectors=2, iters=10)
    fig3 = plot_spectral_density(dens)
    np.testing.assert_array_equal(fig3.axes[0].lines[0].get_ydata(), dens.density)
    fig3.savefig(tmp_path / "dens.png")
    assert (tmp_path / "dens.png").stat().st_size > 3000
