-- The durable state of a project: what was mapped to what, and what
-- happened to each file. One SQLite database, owner-only permissions.
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Patients in the order first seen; index 0 is the patient without an ID.
CREATE TABLE IF NOT EXISTS patients (
    patient_id      TEXT PRIMARY KEY,
    anon_patient_id TEXT NOT NULL UNIQUE,
    patient_index   INTEGER,
    -- From a lookup table; NULL when the hash-based offset applies.
    date_offset     INTEGER
);
CREATE TABLE IF NOT EXISTS studies (
    study_uid             TEXT PRIMARY KEY,
    anon_study_uid        TEXT NOT NULL,
    patient_id            TEXT NOT NULL REFERENCES patients(patient_id),
    study_date            TEXT,
    accession_number      TEXT,
    anon_accession_number TEXT,
    date_offset           INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS series (
    series_uid      TEXT PRIMARY KEY,
    anon_series_uid TEXT NOT NULL,
    study_uid       TEXT NOT NULL REFERENCES studies(study_uid)
);
CREATE TABLE IF NOT EXISTS instances (
    sop_instance_uid      TEXT PRIMARY KEY,
    anon_sop_instance_uid TEXT NOT NULL,
    series_uid            TEXT NOT NULL REFERENCES series(series_uid),
    source                TEXT NOT NULL
);
-- Every UID the engine replaced, at any depth.
CREATE TABLE IF NOT EXISTS uids (
    phi_uid  TEXT PRIMARY KEY,
    anon_uid TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lookup_patients (
    patient_id      TEXT PRIMARY KEY,
    anon_patient_id TEXT NOT NULL,
    date_offset     INTEGER
);
-- The audit record of each input file (path relative to the input root);
-- `worker` is the process that recorded it (`host pid N`, and its shard).
CREATE TABLE IF NOT EXISTS files (
    source       TEXT PRIMARY KEY,
    status       TEXT NOT NULL CHECK (status IN ('done', 'quarantined', 'skipped', 'failed')),
    output       TEXT,
    reason       TEXT,
    detail       TEXT,
    processed_at TEXT NOT NULL,
    worker       TEXT
);
-- The numbers CTP's @integer assigned: one sequence per key type.
CREATE TABLE IF NOT EXISTS ctp_integers (
    key_type TEXT NOT NULL,
    text     TEXT NOT NULL,
    value    INTEGER NOT NULL,
    PRIMARY KEY (key_type, text)
);
-- What `send` delivered: each output (path relative to the output root)
-- stored at a destination (`AET@HOST:PORT`), with the peer's C-STORE status.
CREATE TABLE IF NOT EXISTS sent (
    output      TEXT NOT NULL,
    destination TEXT NOT NULL,
    status      INTEGER NOT NULL,
    sent_at     TEXT NOT NULL,
    PRIMARY KEY (output, destination)
);
-- The schema's version; a build refuses a store with a newer one.
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
