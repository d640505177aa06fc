"""Pure plotly/pandas builders: data in, figure or table out (no Streamlit, testable headless)."""
from .attacks import (maps_before_after, prediction_change, prediction_text, predictions_table, probabilities_figure,
                      result_row, senn_figure, senn_frame, senn_ranges)
from .experiments import box_figure, lines_figure, readable, table_figure
from .images import (bars_figure, explanation_figure, explanation_ranges, grid_origin, grounding_figure, image_figure,
                     image_grid_figure, perturbation_figure, prototypes_figure)
from .influence import influential_digits_figure
from .lipschitz import lipschitz_box, lipschitz_frame, pair_figure, point_labels, worst_case
from .tables import prototype_frame, prototype_marks, prototype_table, protodl_digit_frame

__all__ = ["maps_before_after", "prediction_change", "readable", "prediction_text", "predictions_table", "probabilities_figure", "result_row",
           "senn_figure", "senn_frame", "senn_ranges", "box_figure", "lines_figure", "table_figure", "bars_figure",
           "explanation_figure", "explanation_ranges", "grid_origin", "grounding_figure", "image_figure", "prototypes_figure", "image_grid_figure",
           "perturbation_figure", "lipschitz_box", "lipschitz_frame", "pair_figure", "point_labels", "worst_case",
           "prototype_frame", "prototype_marks", "prototype_table", "protodl_digit_frame", "influential_digits_figure"]
