"""Metric stores: one port, three adapters.

* :mod:`~fediscope.store.port` — the ``MetricStore`` protocol, ``open_store(url)``, ``store_from_settings()``;
* :mod:`~fediscope.store.schema` — column types inferred from rows, the catalog record, write planning;
* :mod:`~fediscope.store.base` — the write protocol and lookups every adapter shares;
* :mod:`~fediscope.store.sql` with :mod:`~fediscope.store.sqlite` and :mod:`~fediscope.store.mysql` — one table
  per metric through SQLAlchemy Core;
* :mod:`~fediscope.store.hbase` with :mod:`~fediscope.store.hbase_schema` (tables) and
  :mod:`~fediscope.store.rowkeys` (row keys) — HBase through happybase.
"""
