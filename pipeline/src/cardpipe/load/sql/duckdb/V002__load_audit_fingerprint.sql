-- The audit records the loader's own content checksum (`sha256:<hex>`, computed from the bytes it read) and
-- the object's listing fingerprint (S3: size + ETag; local: size + mtime_ns + inode). An audited object whose
-- fingerprint changed is read again: same checksum -> only the fingerprint is refreshed; another checksum ->
-- the file's rows are replaced. Rows from before keep their bare md5 hex checksum and get no fingerprint: each
-- is verified once on the next load (an S3 ETag equal to that md5, or else the md5 of the bytes read).
-- Rebuilt rather than altered, inside the migration's transaction, so that the newest CREATE TABLE of a table
-- is its whole declaration (what tests/contract compares with contracts/raw_tables.py).
CREATE TABLE raw.load_audit_v001 AS SELECT * FROM raw.load_audit;

DROP TABLE raw.load_audit;

CREATE TABLE IF NOT EXISTS raw.load_audit (
    file_name varchar PRIMARY KEY,
    kind varchar NOT NULL CHECK (kind IN ('events', 'quarantine', 'journal_counts')),
    rows bigint NOT NULL,
    checksum varchar NOT NULL,
    loaded_at timestamptz NOT NULL,
    fingerprint varchar
);

INSERT INTO raw.load_audit (file_name, kind, rows, checksum, loaded_at)
SELECT file_name, kind, rows, checksum, loaded_at FROM raw.load_audit_v001;

DROP TABLE raw.load_audit_v001;
