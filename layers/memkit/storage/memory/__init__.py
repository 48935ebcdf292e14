"""The memory domain's storage: threads, messages and resources. ``base.py`` is the port
(``MemoryStorage``), ``rules.py`` the write rules both backends share, and ``libsql/`` and
``dynamodb/`` the two stores (``docs/memory-model.md`` is the behaviour they implement)."""
