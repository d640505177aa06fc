"""Dataset-level runs shared by the CLI and the app (paper 000 Fig. 2/3, paper 003, papers 001/002)."""
from .protodl_distances import ProtoDistancesResult, protodl_distances
from .sampling import pick_digits
from .senn_distances import SennDistancesResult, senn_distances

__all__ = ["ProtoDistancesResult", "protodl_distances", "pick_digits", "SennDistancesResult", "senn_distances"]
