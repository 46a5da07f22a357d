"""A month of operation, compressed: the real DAGs on a real local Airflow over a simulated calendar (``make soak``).

``plan`` says what happens when (traffic, drift episodes, faults), ``driver`` plays it through the
REST API, ``invariants`` counts what must hold after every simulated day, ``report`` prints the table
and writes the JSON report.
"""
