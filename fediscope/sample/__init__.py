"""A sample Mastodon world for the demo, tests and benchmarks: a corpus generator and a compatible server.

``fediscope.sample.corpus`` generates realistic statuses and accounts (seedable, streaming);
``fediscope.sample.landing`` writes them as JSONL or straight into the raw lake; ``fediscope.sample.server``
serves them over a Mastodon-compatible HTTP API on 127.0.0.1 (``fediscope sample-instance``).
"""
