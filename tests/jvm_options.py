"""Java options for the JVMs the tests start themselves (the ``spark`` fixture's driver, a spark-submit run).

``-XX:TieredStopAtLevel=1``: the JIT compiles with its quick compiler (C1) only, not also with the optimizing one
(C2). A test's JVM runs each of its many small queries' generated code briefly, on kilobytes of data: the optimized
code seldom pays for its compilation, which ran beside the tests on the compiler's own threads, on the 2 cores
``make test``'s two processes share. Measured beside one busy core (as beside the other test process): the two
spark-submit curations of tests/engine/test_spark_job_log.py took 62 s of CPU instead of 105 s (100 s instead of
110 s), the 3 Spark tests of tests/engine/test_remote_lake.py on the shared session 89-91 s of the JVM's CPU instead
of 103-111 s (the same time). How the JVM compiles is no behaviour of Spark's or fediscope's: the same code runs,
with the same results; only the tests' JVMs get it.
"""

from __future__ import annotations

#: what ``--driver-java-options`` of spark-submit (or ``PYSPARK_SUBMIT_ARGS``) gives a test's driver JVM
QUICK_JVM = "-XX:TieredStopAtLevel=1"
