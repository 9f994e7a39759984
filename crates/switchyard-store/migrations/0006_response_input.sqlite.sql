-- A response's own input goes into its row, as one JSON array of {"id", "item"} in order:
-- it is only ever read with the response. `response_items` keeps only the output items, as an
-- index for finding one again (by id, or a call by call_id); the item itself is read from the
-- response's body at `position`. SQLite's variant: the index table is WITHOUT ROWID, so a row
-- is one b-tree entry (its primary key) plus its item_id entry.
ALTER TABLE responses ADD COLUMN input TEXT;
UPDATE responses SET input = (
    SELECT json_group_array(json_object('id', item_id, 'item', json(body)) ORDER BY position)
    FROM response_items WHERE response_id = responses.id AND side = 'input'
);

CREATE TABLE response_outputs (
    response_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    item_id TEXT NOT NULL,
    call_id TEXT,
    PRIMARY KEY (response_id, position)
) WITHOUT ROWID;
INSERT INTO response_outputs (response_id, position, item_id, call_id)
    SELECT response_id, position, item_id, call_id FROM response_items WHERE side = 'output';
DROP TABLE response_items;
ALTER TABLE response_outputs RENAME TO response_items;
CREATE INDEX response_items_item_id ON response_items (item_id);
-- Only calls have a call_id.
CREATE INDEX response_items_call_id ON response_items (call_id) WHERE call_id IS NOT NULL;
