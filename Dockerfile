# The Airflow image for docker compose: MWAA's Airflow and Python plus the project's
# requirements and the local runtime's extras (CPU-only PyTorch, Optuna).
ARG AIRFLOW_BASE_IMAGE=apache/airflow:3.3.1-python3.12
FROM ${AIRFLOW_BASE_IMAGE}

COPY requirements.txt /opt/scones/requirements.txt
COPY requirements/airflow-constraints-3.3.1-python3.12.txt /opt/scones/constraints.txt

# Pin the image's own Airflow so a requirement can never up- or downgrade it.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
      -r /opt/scones/requirements.txt -c /opt/scones/constraints.txt \
 && pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
 && pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" optuna -c /opt/scones/constraints.txt

ENV PYTHONPATH=/opt/airflow
