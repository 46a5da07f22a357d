"""The project's pages inside the Airflow UI: the photo review queue and model evaluation reports.

:mod:`include.web.links` (cheap to import) names where they live; :mod:`include.web.app` builds the FastAPI
application the plugin mounts on the API server.
"""
