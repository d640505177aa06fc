"""Issue 28's new protocol pieces on models this project did not write: the targeted region (a quiet SLIC superpixel)
and the explainers' noise floors work on a colour 3×32×32 classifier and a plain module with functional ReLUs."""
import pytest
import torch

from sem_core.attacks.saliency import MIN_REGION, quiet_superpixels
from sem_core.errors import AttackError
from sem_core.lipschitz.protocols import get_protocol, noise_floor


def _blob_images(channels: int, size: int, n: int = 2) -> torch.Tensor:
    """Bright discs on a dark background: an object SLIC can segment, in ``channels`` colours."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disc = (((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 3) ** 2).float()
    return (disc * torch.linspace(0.6, 1.0, channels).view(1, channels, 1, 1)).expand(n, channels, size, size).clone()


def test_the_quiet_superpixel_of_a_colour_image_lies_on_the_object_where_the_map_looks_least(foreign):
    model = foreign["colour-3x32x32"][0]
    x = _blob_images(3, 32)
    natural = torch.zeros(2, 1, 32, 32)
    natural[..., :16, :] = 1.0                   # the map looks at the top half only
    mask = quiet_superpixels(x, natural)
    assert mask.shape == (2, 1, 32, 32) and set(mask.unique().tolist()) <= {0.0, 1.0}
    on = mask[:, 0].bool()
    assert (on.flatten(1).sum(1) >= MIN_REGION).all()
    assert (x.mean(1)[on] > 0.25).all()          # on the object
    assert (natural[:, 0][on] == 0).all()        # where the map puts no mass
    assert model(x).shape == (2, 10)             # the images are the model's own shape


def test_an_image_without_an_object_is_refused_with_a_reason():
    with pytest.raises(AttackError, match="no SLIC superpixel on the object"):
        quiet_superpixels(torch.zeros(1, 3, 32, 32), torch.ones(1, 1, 32, 32))


@pytest.mark.parametrize("name", ["functional-cnn", "colour-3x32x32"])
def test_noise_floors_on_foreign_models(foreign, name):
    model, x, _ = foreign[name]
    protocol = get_protocol("strict")
    assert noise_floor(model, "saliency", x, protocol) is None          # draws nothing: its floor is 0
    floor = noise_floor(model, "smoothgrad", x, protocol, seed=0)        # draws noise: a positive floor
    assert floor.shape == (len(x),) and bool((floor > 0).all()) and bool(torch.isfinite(floor).all())
    again = noise_floor(model, "smoothgrad", x, protocol, seed=0)
    assert torch.equal(floor, again)                                     # seeded: the same floor twice
