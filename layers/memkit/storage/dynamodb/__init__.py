"""The DynamoDB table every storage domain shares, and what every DynamoDB adapter uses on it.

``table.py`` defines the table (``PK``/``SK``, ``GSI1``, ``GSI2``), the polymorphic ``Item`` base
the domains' items derive from, and creating it; ``errors.py`` maps AWS error codes to memkit's
errors (the one place); ``requests.py`` holds transactions, batch reads and writes and delete
sweeps; ``paging.py`` reads pages out of partitions.

No domain's keys live here: each domain builds its own, under prefixes no other domain uses:

=============  ===============================================================================
domain         partition keys (``PK``) and index partitions (``GSI1PK`` / ``GSI2PK``)
=============  ===============================================================================
memory         ``THREAD#``, ``MSGID#``, ``RESOURCE#``; ``RES#<id>#THREADS``, ``RES#<id>#MSGS``
               (``storage/memory/dynamodb/keys.py``, ``docs/dynamodb.md``)
workflows      ``RUN#``; ``WF#``, ``WFRES#`` (``docs/domains.md``, as the two below)
scores         ``SCORE#``; ``SCORER#``, ``SCORERUN#``, ``SCOREBATCH#``, ``SCOREENT#``,
               ``SCORESPAN#``, ``SCOREDATASET#``
observability  ``TRACE#``, ``TRACEMONTHS``; ``TRACES#``, ``TRACEENT#``
datasets       ``DS#``, ``EXP#``; ``DATASETS``, ``EXPERIMENTS``, ``DSITEMS#``, ``DSREVS#``,
               ``DSEXP#``, ``EXPRES#``
=============  ===============================================================================
"""
