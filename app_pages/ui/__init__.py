"""The pages' shared helpers, split by concern (URL state, jobs, pickers, figures, downloads)."""
