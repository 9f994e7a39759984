-- Background responses: the lease of the gateway instance running one (Unix seconds; past it
-- the response is taken as abandoned), a cancellation asked for from any instance, and the
-- stream events kept so that a client can resume after any of them.
ALTER TABLE responses ADD COLUMN lease_until BIGINT;
ALTER TABLE responses ADD COLUMN cancel_requested BIGINT NOT NULL DEFAULT 0;

CREATE TABLE response_events (
    response_id TEXT NOT NULL,
    sequence_number BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (response_id, sequence_number)
);
