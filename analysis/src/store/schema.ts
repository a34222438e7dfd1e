/**
 * The shared model, as tables a developer can query directly. Every
 * identifier of a cluster, host, organisation or user is a key derived with
 * the service's own secret (see `normalise/keys.ts`); no raw id is stored.
 */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS archives (
  sha256 VARCHAR PRIMARY KEY,
  bytes BIGINT NOT NULL,
  kind VARCHAR NOT NULL,
  source VARCHAR NOT NULL,
  channel VARCHAR NOT NULL,
  org_key VARCHAR,
  first_received_at TIMESTAMPTZ NOT NULL,
  times_received INTEGER NOT NULL DEFAULT 1,
  status VARCHAR NOT NULL,
  reason VARCHAR,
  cluster_key VARCHAR,
  collector VARCHAR,
  processed_at TIMESTAMPTZ,
  events_in_archive BIGINT,
  events_new BIGINT
);
CREATE TABLE IF NOT EXISTS requests (
  request_id VARCHAR PRIMARY KEY,
  sha256 VARCHAR NOT NULL,
  org_key VARCHAR,
  received_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
  attempt_id VARCHAR PRIMARY KEY,
  cluster_key VARCHAR NOT NULL,
  source VARCHAR NOT NULL,
  channel VARCHAR NOT NULL,
  org_key VARCHAR,
  user_key VARCHAR,
  email_domain VARCHAR,
  internal BOOLEAN NOT NULL,
  cluster_created_at TIMESTAMPTZ,
  ended_at TIMESTAMPTZ,
  result VARCHAR NOT NULL,
  last_state VARCHAR,
  duration_s DOUBLE,
  openshift_version VARCHAR,
  ai_version VARCHAR,
  deployment_type VARCHAR,
  deployment_version VARCHAR,
  platform VARCHAR,
  ha_mode VARCHAR,
  host_count INTEGER,
  cpu_architecture VARCHAR,
  network_type VARCHAR,
  user_managed_networking BOOLEAN,
  features VARCHAR[],
  archive_sha256 VARCHAR,
  operators VARCHAR[],
  dual_stack BOOLEAN,
  cluster_kind VARCHAR,
  created_by_aicli BOOLEAN,
  iso_type VARCHAR
);
-- Stores made before these columns existed get them (empty until reprocess).
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS cluster_kind VARCHAR;
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS created_by_aicli BOOLEAN;
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS iso_type VARCHAR;
CREATE TABLE IF NOT EXISTS hosts (
  cluster_key VARCHAR NOT NULL,
  host_key VARCHAR NOT NULL,
  source VARCHAR NOT NULL,
  role VARCHAR,
  status VARCHAR,
  final_stage VARCHAR,
  vendor VARCHAR,
  product VARCHAR,
  is_virtual BOOLEAN,
  cpu_cores INTEGER,
  memory_bytes BIGINT,
  boot_disk_type VARCHAR,
  cpu_architecture VARCHAR,
  PRIMARY KEY (cluster_key, host_key)
);
CREATE TABLE IF NOT EXISTS events (
  cluster_key VARCHAR NOT NULL,
  event_id VARCHAR NOT NULL,
  source VARCHAR NOT NULL,
  host_key VARCHAR,
  event_time TIMESTAMPTZ,
  name VARCHAR,
  message VARCHAR,
  severity VARCHAR,
  category VARCHAR,
  props VARCHAR
);
CREATE TABLE IF NOT EXISTS cluster_snapshots (
  cluster_key VARCHAR NOT NULL,
  source VARCHAR NOT NULL,
  updated_at TIMESTAMPTZ,
  facts VARCHAR NOT NULL,
  PRIMARY KEY (cluster_key, source)
);
CREATE TABLE IF NOT EXISTS component_versions (
  cluster_key VARCHAR NOT NULL,
  component VARCHAR NOT NULL,
  version VARCHAR,
  PRIMARY KEY (cluster_key, component)
);
CREATE OR REPLACE VIEW host_stages AS
  SELECT cluster_key, host_key, source, event_time,
         json_extract_string(props, '$.host_stage') AS stage,
         TRY_CAST(json_extract_string(props, '$.duration') AS DOUBLE) AS duration_s,
         json_extract_string(props, '$.result') AS result,
         json_extract_string(props, '$.vendor') AS vendor,
         json_extract_string(props, '$.product') AS product,
         json_extract_string(props, '$.disk_type') AS disk_type,
         json_extract_string(props, '$.host_role') AS role
  FROM events WHERE message = 'host.stage.duration' AND json_valid(props);
`;
