-- The durable state of a project shared by workers on many machines: the
-- same tables as the SQLite store (schema.sql), in PostgreSQL's types.
CREATE TABLE IF NOT EXISTS schema_version (
    version BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Patients in the order their first capture committed; index 0 is the
-- patient without an ID.
CREATE TABLE IF NOT EXISTS patients (
    patient_id      TEXT PRIMARY KEY,
    anon_patient_id TEXT NOT NULL UNIQUE,
    patient_index   BIGINT UNIQUE,
    date_offset     BIGINT
);
CREATE TABLE IF NOT EXISTS studies (
    study_uid             TEXT PRIMARY KEY,
    anon_study_uid        TEXT NOT NULL,
    patient_id            TEXT NOT NULL REFERENCES patients(patient_id),
    study_date            TEXT,
    accession_number      TEXT,
    anon_accession_number TEXT,
    date_offset           BIGINT NOT NULL
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
CREATE INDEX IF NOT EXISTS instances_by_series ON instances (series_uid);
CREATE TABLE IF NOT EXISTS uids (
    phi_uid  TEXT PRIMARY KEY,
    anon_uid TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lookup_patients (
    patient_id      TEXT PRIMARY KEY,
    anon_patient_id TEXT NOT NULL,
    date_offset     BIGINT
);
-- `seq` orders the records as SQLite's rowid does (the send queue).
CREATE TABLE IF NOT EXISTS files (
    source       TEXT PRIMARY KEY,
    status       TEXT NOT NULL CHECK (status IN ('done', 'quarantined', 'skipped', 'failed')),
    output       TEXT,
    reason       TEXT,
    detail       TEXT,
    processed_at TEXT NOT NULL,
    seq          BIGSERIAL NOT NULL,
    worker       TEXT
);
-- Migrations from older schemas (each can run again).
ALTER TABLE files ADD COLUMN IF NOT EXISTS worker TEXT;
CREATE TABLE IF NOT EXISTS ctp_integers (
    key_type TEXT NOT NULL,
    text     TEXT NOT NULL,
    value    BIGINT NOT NULL,
    PRIMARY KEY (key_type, text),
    UNIQUE (key_type, value)
);
CREATE TABLE IF NOT EXISTS sent (
    output      TEXT NOT NULL,
    destination TEXT NOT NULL,
    status      INTEGER NOT NULL,
    sent_at     TEXT NOT NULL,
    PRIMARY KEY (output, destination)
);
