"""The engagement webhook and the KPI / A-B dashboard (FastAPI), with Prometheus /metrics."""
