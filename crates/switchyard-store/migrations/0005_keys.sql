-- Virtual keys and teams. A key is kept only as the SHA-256 (hex) of its text, as LiteLLM
-- keeps `hash_token`; `key_name` is its abbreviation (`sk-...abcd`) for display. Lists and
-- objects are JSON text; times are Unix milliseconds; limits and budgets are NULL when unset.
CREATE TABLE virtual_keys (
    token TEXT PRIMARY KEY,
    key_name TEXT NOT NULL,
    key_alias TEXT,
    team_id TEXT,
    user_id TEXT,
    models TEXT NOT NULL,
    max_budget DOUBLE PRECISION,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_duration TEXT,
    budget_reset_at BIGINT,
    rpm_limit BIGINT,
    tpm_limit BIGINT,
    max_parallel_requests BIGINT,
    expires BIGINT,
    metadata TEXT NOT NULL,
    tags TEXT NOT NULL,
    allowed_routes TEXT NOT NULL,
    blocked BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    spend_updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX virtual_keys_alias ON virtual_keys (key_alias);
CREATE INDEX virtual_keys_team ON virtual_keys (team_id);
CREATE INDEX virtual_keys_spend_updated_at ON virtual_keys (spend_updated_at);

CREATE TABLE teams (
    team_id TEXT PRIMARY KEY,
    team_alias TEXT,
    members_with_roles TEXT NOT NULL,
    models TEXT NOT NULL,
    max_budget DOUBLE PRECISION,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_duration TEXT,
    budget_reset_at BIGINT,
    rpm_limit BIGINT,
    tpm_limit BIGINT,
    max_parallel_requests BIGINT,
    metadata TEXT NOT NULL,
    blocked BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    spend_updated_at BIGINT NOT NULL
);
CREATE INDEX teams_spend_updated_at ON teams (spend_updated_at);

-- One row, bumped in the transaction of every change to a key or a team (not of spend):
-- replicas poll it and reload their caches when it moves.
CREATE TABLE auth_version (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO auth_version (id, version) VALUES (1, 0);

-- Who a spend-log row was for, besides the hashed key.
ALTER TABLE spend_logs ADD COLUMN api_key_alias TEXT;
ALTER TABLE spend_logs ADD COLUMN team_id TEXT;
ALTER TABLE spend_logs ADD COLUMN team_alias TEXT;
ALTER TABLE spend_logs ADD COLUMN user_id TEXT;
CREATE INDEX spend_logs_team_id ON spend_logs (team_id);
