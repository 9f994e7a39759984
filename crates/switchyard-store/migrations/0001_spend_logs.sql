-- Spend logs and end users (customers). Written for both SQLite and PostgreSQL: BIGINT,
-- DOUBLE PRECISION and TEXT mean the same in both; times are Unix milliseconds.
CREATE TABLE spend_logs (
    request_id TEXT PRIMARY KEY,
    response_id TEXT,
    call_type TEXT NOT NULL,
    route TEXT,
    api_key TEXT,
    end_user TEXT,
    model_group TEXT,
    model TEXT,
    model_id TEXT,
    custom_llm_provider TEXT,
    api_base TEXT,
    stream BIGINT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL,
    http_status BIGINT NOT NULL,
    error_class TEXT,
    error_code TEXT,
    attempts BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    spend DOUBLE PRECISION,
    start_time BIGINT NOT NULL,
    completion_start_time BIGINT,
    end_time BIGINT NOT NULL,
    request_duration_ms DOUBLE PRECISION NOT NULL,
    ttft_ms DOUBLE PRECISION,
    request_tags TEXT NOT NULL,
    metadata TEXT NOT NULL,
    requester_ip_address TEXT,
    messages TEXT,
    response TEXT
);
CREATE INDEX spend_logs_start_time ON spend_logs (start_time);
CREATE INDEX spend_logs_end_user ON spend_logs (end_user);
CREATE INDEX spend_logs_api_key ON spend_logs (api_key);

CREATE TABLE end_users (
    user_id TEXT PRIMARY KEY,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    max_budget DOUBLE PRECISION,
    blocked BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
