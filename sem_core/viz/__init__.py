"""Pure plotly/pandas builders: data in, figure or table out (no Streamlit, testable headless)."""
from .experiments import box_figure, lines_figure, table_figure
from .images import (bars_figure, explanation_figure, explanation_ranges, grid_origin, image_figure,
                     image_grid_figure, perturbation_figure)
from .tables import prototype_frame, prototype_marks, prototype_table, protodl_digit_frame

__all__ = ["box_figure", "lines_figure", "table_figure", "bars_figure", "explanation_figure", "explanation_ranges",
           "grid_origin", "image_figure", "image_grid_figure", "perturbation_figure", "prototype_frame",
           "prototype_marks", "prototype_table", "protodl_digit_frame"]
