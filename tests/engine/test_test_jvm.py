"""The tests' own Spark session runs its JVM with the options of tests/jvm_options.py (the JIT's quick compiler
only, with the code cache the JVM reserves for both compilers), which no command a test runs inherits."""

from __future__ import annotations

import os

import pytest
from jvm_options import QUICK_JVM_OPTIONS


@pytest.mark.spark
def test_the_tests_spark_session_compiles_with_the_quick_compiler_only(spark) -> None:  # noqa: ANN001
    jvm = spark.sparkContext._jvm
    arguments = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert all(option in arguments for option in QUICK_JVM_OPTIONS), arguments
    for option in QUICK_JVM_OPTIONS:
        assert option not in os.environ.get("PYSPARK_SUBMIT_ARGS", "")  # set only while the JVM started


@pytest.mark.spark
def test_the_tests_spark_session_has_room_for_its_compiled_code(spark) -> None:  # noqa: ANN001
    """The quick compiler alone reserves 48 MB of code cache, which a worker's session of thousands of queries filled
    (its executor's threads died: "Out of space in CodeCache for adapters"); the tests' JVM reserves 240 MB."""
    jvm = spark.sparkContext._jvm
    bean = jvm.java.lang.management.ManagementFactory.getPlatformMXBean(
        jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean"))
    assert int(bean.getVMOption("ReservedCodeCacheSize").getValue()) >= 240 * 1024 * 1024
