"""The pytest plugin's parts: span recording, assertions and the findings report.

Private modules; the plugin itself is `tracehound.pytest_plugin` (its entry
point), which re-exports what tests use (`SpanRecorder`, the ``assert_*``
helpers and the ``tracehound_spans`` fixture).
"""
