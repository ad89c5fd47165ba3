"""Java options for the JVMs the tests start themselves (the ``spark`` fixture's driver, a spark-submit run).

``-XX:TieredStopAtLevel=1``: the JIT compiles with its quick compiler (C1) only, not also with the optimizing one
(C2). A test's JVM runs each of its many small queries' generated code briefly, on kilobytes of data: the optimized
code seldom pays for its compilation, which ran beside the tests on the compiler's own threads, on the 2 cores
``make test``'s two processes share. Measured beside one busy core (as beside the other test process): the two
spark-submit curations of tests/engine/test_spark_job_log.py took 62 s of CPU instead of 105 s (100 s instead of
110 s), the 3 Spark tests of tests/engine/test_remote_lake.py on the shared session 89-91 s of the JVM's CPU instead
of 103-111 s (the same time). How the JVM compiles is no behaviour of Spark's or fediscope's: the same code runs,
with the same results; only the tests' JVMs get it.

``-XX:ReservedCodeCacheSize=240m``: with the quick compiler only, the JVM reserves 48 MB for compiled code instead of
the 240 MB it reserves otherwise, and a test process's JVM, which runs thousands of queries' generated classes in one
session, filled it: "CodeCache is full ... Out of space in CodeCache for adapters", a thread of the executor died and
the tests after it failed with py4j's "connection refused". 240 MB is the JVM's own default with both compilers.
"""

from __future__ import annotations

import shlex

#: the Java options of a test's driver JVM, each one word
QUICK_JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=240m")
#: what ``--driver-java-options`` of spark-submit (or ``PYSPARK_SUBMIT_ARGS``, quoted) gives a test's driver JVM: one
#: argument, which spark-submit splits at its spaces
QUICK_JVM = " ".join(QUICK_JVM_OPTIONS)


def quick_pyspark_submit_args(*options: str) -> str:
    """``PYSPARK_SUBMIT_ARGS`` for a driver JVM started by pyspark's launcher: ``options`` (``--master local[1]``,
    say), then :data:`QUICK_JVM` quoted as the launcher reads it, then ``pyspark-shell``."""
    return " ".join([*options, "--driver-java-options", shlex.quote(QUICK_JVM), "pyspark-shell"])
