"""The in-process half of tracehound, on the OpenTelemetry SDK."""
