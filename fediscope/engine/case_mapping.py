"""The characters whose case DuckDB and Spark map otherwise, one by one (``upper(c)``/``lower(c)`` of every code
point compared on DuckDB 1.x/2.0 and Spark 4 on Java 17+), and what DuckDB maps each to: one code point each.

Spark (Java's ``String.toUpperCase``/``toLowerCase``) maps some to two or three (``ß`` to ``SS``, ``ǰ`` to ``J̌``,
``İ`` to ``i̇``), where DuckDB keeps them or maps them to one (``ẞ``, ``i``); and Java knows newer characters
(Unicode 16) that DuckDB leaves as they are. Computed by comparing both engines' answers for each code point; a
JVM of another Unicode version may differ on a few more new characters."""

from __future__ import annotations

#: the characters whose upper() differs, and DuckDB's upper() of each, in the same order
UPPER_FROM = (
    "\u00df\u0149\u019b\u01f0\u0264\u0390\u03b0\u0587"
    "\u1c8a\u1e96\u1e97\u1e98\u1e99\u1e9a\u1f50\u1f52"
    "\u1f54\u1f56\u1f80\u1f81\u1f82\u1f83\u1f84\u1f85"
    "\u1f86\u1f87\u1f88\u1f89\u1f8a\u1f8b\u1f8c\u1f8d"
    "\u1f8e\u1f8f\u1f90\u1f91\u1f92\u1f93\u1f94\u1f95"
    "\u1f96\u1f97\u1f98\u1f99\u1f9a\u1f9b\u1f9c\u1f9d"
    "\u1f9e\u1f9f\u1fa0\u1fa1\u1fa2\u1fa3\u1fa4\u1fa5"
    "\u1fa6\u1fa7\u1fa8\u1fa9\u1faa\u1fab\u1fac\u1fad"
    "\u1fae\u1faf\u1fb2\u1fb3\u1fb4\u1fb6\u1fb7\u1fbc"
    "\u1fc2\u1fc3\u1fc4\u1fc6\u1fc7\u1fcc\u1fd2\u1fd3"
    "\u1fd6\u1fd7\u1fe2\u1fe3\u1fe4\u1fe6\u1fe7\u1ff2"
    "\u1ff3\u1ff4\u1ff6\u1ff7\u1ffc\ua7cd\ua7cf\ua7d3"
    "\ua7d5\ua7db\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05"
    "\ufb06\ufb13\ufb14\ufb15\ufb16\ufb17\U00010d70\U00010d71"
    "\U00010d72\U00010d73\U00010d74\U00010d75\U00010d76\U00010d77\U00010d78\U00010d79"
    "\U00010d7a\U00010d7b\U00010d7c\U00010d7d\U00010d7e\U00010d7f\U00010d80\U00010d81"
    "\U00010d82\U00010d83\U00010d84\U00010d85\U00016ebb\U00016ebc\U00016ebd\U00016ebe"
    "\U00016ebf\U00016ec0\U00016ec1\U00016ec2\U00016ec3\U00016ec4\U00016ec5\U00016ec6"
    "\U00016ec7\U00016ec8\U00016ec9\U00016eca\U00016ecb\U00016ecc\U00016ecd\U00016ece"
    "\U00016ecf\U00016ed0\U00016ed1\U00016ed2\U00016ed3"
)
UPPER_DUCKDB = (
    "\u1e9e\u0149\u019b\u01f0\u0264\u0390\u03b0\u0587"
    "\u1c8a\u1e96\u1e97\u1e98\u1e99\u1e9a\u1f50\u1f52"
    "\u1f54\u1f56\u1f88\u1f89\u1f8a\u1f8b\u1f8c\u1f8d"
    "\u1f8e\u1f8f\u1f88\u1f89\u1f8a\u1f8b\u1f8c\u1f8d"
    "\u1f8e\u1f8f\u1f98\u1f99\u1f9a\u1f9b\u1f9c\u1f9d"
    "\u1f9e\u1f9f\u1f98\u1f99\u1f9a\u1f9b\u1f9c\u1f9d"
    "\u1f9e\u1f9f\u1fa8\u1fa9\u1faa\u1fab\u1fac\u1fad"
    "\u1fae\u1faf\u1fa8\u1fa9\u1faa\u1fab\u1fac\u1fad"
    "\u1fae\u1faf\u1fb2\u1fbc\u1fb4\u1fb6\u1fb7\u1fbc"
    "\u1fc2\u1fcc\u1fc4\u1fc6\u1fc7\u1fcc\u1fd2\u1fd3"
    "\u1fd6\u1fd7\u1fe2\u1fe3\u1fe4\u1fe6\u1fe7\u1ff2"
    "\u1ffc\u1ff4\u1ff6\u1ff7\u1ffc\ua7cd\ua7cf\ua7d3"
    "\ua7d5\ua7db\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05"
    "\ufb06\ufb13\ufb14\ufb15\ufb16\ufb17\U00010d70\U00010d71"
    "\U00010d72\U00010d73\U00010d74\U00010d75\U00010d76\U00010d77\U00010d78\U00010d79"
    "\U00010d7a\U00010d7b\U00010d7c\U00010d7d\U00010d7e\U00010d7f\U00010d80\U00010d81"
    "\U00010d82\U00010d83\U00010d84\U00010d85\U00016ebb\U00016ebc\U00016ebd\U00016ebe"
    "\U00016ebf\U00016ec0\U00016ec1\U00016ec2\U00016ec3\U00016ec4\U00016ec5\U00016ec6"
    "\U00016ec7\U00016ec8\U00016ec9\U00016eca\U00016ecb\U00016ecc\U00016ecd\U00016ece"
    "\U00016ecf\U00016ed0\U00016ed1\U00016ed2\U00016ed3"
)

#: the characters whose lower() differs, and DuckDB's lower() of each, in the same order
LOWER_FROM = (
    "\u0130\u1c89\ua7cb\ua7cc\ua7ce\ua7d2\ua7d4\ua7da"
    "\ua7dc\U00010d50\U00010d51\U00010d52\U00010d53\U00010d54\U00010d55\U00010d56"
    "\U00010d57\U00010d58\U00010d59\U00010d5a\U00010d5b\U00010d5c\U00010d5d\U00010d5e"
    "\U00010d5f\U00010d60\U00010d61\U00010d62\U00010d63\U00010d64\U00010d65\U00016ea0"
    "\U00016ea1\U00016ea2\U00016ea3\U00016ea4\U00016ea5\U00016ea6\U00016ea7\U00016ea8"
    "\U00016ea9\U00016eaa\U00016eab\U00016eac\U00016ead\U00016eae\U00016eaf\U00016eb0"
    "\U00016eb1\U00016eb2\U00016eb3\U00016eb4\U00016eb5\U00016eb6\U00016eb7\U00016eb8"
)
LOWER_DUCKDB = (
    "i\u1c89\ua7cb\ua7cc\ua7ce\ua7d2\ua7d4\ua7da"
    "\ua7dc\U00010d50\U00010d51\U00010d52\U00010d53\U00010d54\U00010d55\U00010d56"
    "\U00010d57\U00010d58\U00010d59\U00010d5a\U00010d5b\U00010d5c\U00010d5d\U00010d5e"
    "\U00010d5f\U00010d60\U00010d61\U00010d62\U00010d63\U00010d64\U00010d65\U00016ea0"
    "\U00016ea1\U00016ea2\U00016ea3\U00016ea4\U00016ea5\U00016ea6\U00016ea7\U00016ea8"
    "\U00016ea9\U00016eaa\U00016eab\U00016eac\U00016ead\U00016eae\U00016eaf\U00016eb0"
    "\U00016eb1\U00016eb2\U00016eb3\U00016eb4\U00016eb5\U00016eb6\U00016eb7\U00016eb8"
)
