-- Stored responses and conversations (the stateful Responses API). Written for both SQLite
-- and PostgreSQL; times are Unix seconds; items and responses are JSON text.
CREATE TABLE responses (
    id TEXT PRIMARY KEY,
    owner TEXT,
    previous_response_id TEXT,
    conversation_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX responses_expires_at ON responses (expires_at);

-- A response's own input items and its output items, for listings and for finding a replayed
-- item (by id, or a call by call_id) again.
CREATE TABLE response_items (
    response_id TEXT NOT NULL,
    side TEXT NOT NULL,
    position BIGINT NOT NULL,
    item_id TEXT NOT NULL,
    call_id TEXT,
    owner TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (response_id, side, position)
);
CREATE INDEX response_items_item_id ON response_items (item_id);
CREATE INDEX response_items_call_id ON response_items (call_id);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    owner TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    metadata TEXT NOT NULL
);

CREATE TABLE conversation_items (
    conversation_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    item_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE INDEX conversation_items_item_id ON conversation_items (conversation_id, item_id);
