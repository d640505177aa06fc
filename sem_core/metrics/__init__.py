"""Metrics: pure batched torch functions over attribution maps, returning ``[B]`` on the device.

Example:
    from sem_core.metrics import normalize_map, spearman, topk_intersection, center_shift
    I0, I1 = normalize_map(m_clean), normalize_map(m_adv)
    spearman(I0, I1), topk_intersection(I0, I1, k=100), center_shift(I0, I1)
"""
from .mass import center_of_mass, center_shift
from .normalize import normalize_map, pixel_map
from .rank import average_ranks, masked_spearman, spearman, topk_intersection, topk_mask
from .similarity import SIMILARITIES, MapSimilarity, make_similarity
from .stats import median

__all__ = ["center_of_mass", "center_shift", "normalize_map", "pixel_map", "average_ranks", "masked_spearman", "spearman",
           "topk_intersection", "topk_mask", "SIMILARITIES", "MapSimilarity", "make_similarity", "median"]
