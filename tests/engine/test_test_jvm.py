"""The tests' own Spark session runs its JVM with the options of tests/jvm_options.py (the JIT's quick compiler
only), which no command a test runs inherits."""

from __future__ import annotations

import os

import pytest
from jvm_options import QUICK_JVM


@pytest.mark.spark
def test_the_tests_spark_session_compiles_with_the_quick_compiler_only(spark) -> None:  # noqa: ANN001
    runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    assert QUICK_JVM in list(runtime.getInputArguments())
    assert QUICK_JVM not in os.environ.get("PYSPARK_SUBMIT_ARGS", "")  # set only while the JVM started
