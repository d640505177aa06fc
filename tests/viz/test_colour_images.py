"""The figure builders a Python user calls draw colour images [3,H,W] of any size as pictures, grey ones as before."""
import torch

from sem_core.viz.images import image_figure
from sem_core.viz.maps import images_figure, map_figure


def test_colour_images_are_drawn_as_pictures_of_their_own_size():
    x = torch.rand(3, 32, 40, generator=torch.Generator().manual_seed(0))
    fig = image_figure(x)
    assert fig.data[0].type == "image" and len(fig.data[0].z) == 32 and len(fig.data[0].z[0]) == 40
    fig = images_figure(x[None], (x + 0.05).clamp(0, 1)[None])
    assert [t.type for t in fig.data] == ["image", "image", "heatmap"]
    assert map_figure(torch.rand(1, 1, 32, 40)).data[0].z.shape == (32, 40)   # a pixel map of any size


def test_grey_digits_draw_as_before():
    x = torch.rand(1, 1, 28, 28)
    assert image_figure(x).data[0].type == "heatmap" and images_figure(x, x).data[0].type == "heatmap"
