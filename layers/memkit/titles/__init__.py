"""Thread titles: what a title is (``rules.py``, pure) and the job that writes one (``job.py``)."""
