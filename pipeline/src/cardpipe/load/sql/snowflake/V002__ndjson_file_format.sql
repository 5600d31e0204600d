-- Bronze objects are gzip NDJSON: one JSON document per line. The stage itself (an S3 storage
-- integration on the raw bucket) is provisioned by infra/, because it needs account-level privileges.
CREATE FILE FORMAT IF NOT EXISTS RAW.NDJSON_GZ
    TYPE = JSON
    COMPRESSION = GZIP
    STRIP_OUTER_ARRAY = FALSE;
