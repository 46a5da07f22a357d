"""The monitoring workflow in pieces: where its files live, the baseline to compare with, the window's analysis,
its result, the decision (a pure policy), the retrain record, the announcement and the report.

An interval is analysed one of two ways, chosen below the seam (``IntervalAnalysis`` in
``include/runtime/capabilities.py``). On AWS accounts with Model Monitor, a scheduled run whose hour has
just ended reads the hourly monitoring schedule's execution for that hour; every other run (the ``local``
runtime, accounts without Model Monitor, backfills, manual runs) runs the analyzer over the window as a
Processing job, because Model Monitor never analyses past hours. Both write the same Model Monitor report
files, read here the same way.
"""
