-- fediscope on MariaDB: the database and two users with the least privilege they need.
--
--   fediscope     the pipeline's writer. fediscope.store.mysql creates one table per metric on first write,
--                 adds or widens columns when a metric changes (ALTER, also to change the TEXT value columns
--                 of a table an older fediscope made to LONGTEXT), loads a new or rebuilt table (its key or
--                 rank changed, a column gone) as _new_<metric> and swaps it in (CREATE, RENAME TABLE, DROP:
--                 readers never find the table missing or half-loaded), keeps indexes on rank columns (INDEX)
--                 and upserts rows. Nothing else: no
--                 GRANT OPTION, no FILE/PROCESS/SUPER, no access to any other database.
--   fediscope_ro  read-only, for BI tools (Superset, Metabase) and analysts: SELECT on this database only.
--
-- Apply with infra/mariadb/bootstrap.py, which sets the passwords from the environment. By hand, as an
-- administrator (passwords never appear in a file or on a command line this way):
--
--   mariadb -u root -p
--   SET @fediscope_password = '…long random…', @fediscope_ro_password = '…', @fediscope_host = '%';
--   SOURCE infra/mariadb/bootstrap.sql;
--
-- @fediscope_ro_password may be left NULL to skip the read-only user. @fediscope_host restricts where the
-- users may connect from ('%' = anywhere; prefer the pipeline's subnet, e.g. '10.0.%'). Re-running is safe:
-- users that exist get the new password, grants are idempotent. The database name `fediscope` is replaced by
-- bootstrap.py --database.
--
-- utf8mb4_nopad_bin: keys compare byte for byte (#Python and #python stay two rows) and sort in code-point
-- order, like the SQLite and HBase stores (see fediscope/store/mysql.py). It is a MariaDB collation: MySQL 8 has
-- none of that name (its byte-wise one is utf8mb4_0900_bin), so on MySQL this script fails as written (use
-- utf8mb4_0900_bin there: fediscope's tables pick it on MySQL by themselves), and only MariaDB is tested.

CREATE DATABASE IF NOT EXISTS `fediscope` CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin;

SET @fediscope_host = COALESCE(@fediscope_host, '%');

-- The writer. Account names and passwords go through QUOTE(), so no value can break out of its string.
SET @stmt = CONCAT('CREATE USER IF NOT EXISTS ''fediscope''@', QUOTE(@fediscope_host),
                   ' IDENTIFIED BY ', QUOTE(@fediscope_password));
PREPARE s FROM @stmt;
EXECUTE s;
DEALLOCATE PREPARE s;
SET @stmt = CONCAT('ALTER USER ''fediscope''@', QUOTE(@fediscope_host), ' IDENTIFIED BY ', QUOTE(@fediscope_password));
PREPARE s FROM @stmt;
EXECUTE s;
DEALLOCATE PREPARE s;
SET @stmt = CONCAT('GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON `fediscope`.* TO ''fediscope''@',
                   QUOTE(@fediscope_host));
PREPARE s FROM @stmt;
EXECUTE s;
DEALLOCATE PREPARE s;

-- The read-only user (skipped when @fediscope_ro_password is NULL).
SET @stmt = IF(@fediscope_ro_password IS NULL, 'DO 0',
               CONCAT('CREATE USER IF NOT EXISTS ''fediscope_ro''@', QUOTE(@fediscope_host),
                      ' IDENTIFIED BY ', QUOTE(@fediscope_ro_password)));
PREPARE s FROM @stmt;
EXECUTE s;
DEALLOCATE PREPARE s;
SET @stmt = IF(@fediscope_ro_password IS NULL, 'DO 0',
               CONCAT('ALTER USER ''fediscope_ro''@', QUOTE(@fediscope_host), ' IDENTIFIED BY ',
                      QUOTE(@fediscope_ro_password)));
PREPARE s FROM @stmt;
EXECUTE s;
DEALLOCATE PREPARE s;
SET @stmt = IF(@fediscope_ro_password IS NULL, 'DO 0',
               CONCAT('GRANT SELECT ON `fediscope`.* TO ''fediscope_ro''@', QUOTE(@fediscope_host)));
PREPARE s FROM @stmt;
EXECUTE s;
DEALLOCATE PREPARE s;

SET @stmt = NULL, @fediscope_password = NULL, @fediscope_ro_password = NULL;
