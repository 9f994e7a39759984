-- Replicas re-read the end users changed recently (their spend, budgets and blocks).
CREATE INDEX end_users_updated_at ON end_users (updated_at);
