"""A sample Mastodon world for the demo, tests and benchmarks: a corpus generator and a compatible server.

``fediscope.sample.corpus`` generates realistic statuses and accounts (seedable, streaming);
``fediscope.sample.landing`` writes them as JSONL or straight into the raw lake; ``fediscope.sample.server``
serves them over a Mastodon-compatible HTTP API on 127.0.0.1 (``fediscope sample-instance``).
"""

#: The most statuses per minute ``fediscope sample-instance --grow`` adds (1000 a second, more than one Python thread
#: generates): beyond it the grow thread never sleeps and the corpus grows without bound, so larger values are
#: refused rather than served.
MAX_GROW_PER_MINUTE = 60_000
