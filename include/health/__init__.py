"""The model's health at a glance: a snapshot of what the pipeline records (:mod:`.snapshot`), its page
(:mod:`.page`), and the static copy of that page the monitor publishes to the bucket (:mod:`.publish`).
"""
