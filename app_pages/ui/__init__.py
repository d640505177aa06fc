"""The pages' shared helpers, split by concern: ``state`` (URL-bound controls, the result a page keeps), ``jobs``
(the attack service, running jobs, estimates and timing captions), ``pickers`` (models, digits, regions, splits),
``figures`` (charts and pictures), ``downloads`` (files and provenance), ``layout`` (sidebar, presenter mode,
details, errors) and ``userdata`` (where the app writes)."""
