-- A response's own input goes into its row, as one JSON array of {"id", "item"} in order:
-- it is only ever read with the response. `response_items` keeps only the output items, as an
-- index for finding one again (by id, or a call by call_id); the item itself is read from the
-- response's body at `position`. (SQLite's variant rebuilds the table WITHOUT ROWID.)
ALTER TABLE responses ADD COLUMN input TEXT;
UPDATE responses r SET input = COALESCE((
    SELECT json_agg(json_build_object('id', i.item_id, 'item', i.body::json) ORDER BY i.position)::text
    FROM response_items i WHERE i.response_id = r.id AND i.side = 'input'
), '[]');

DELETE FROM response_items WHERE side = 'input';
ALTER TABLE response_items DROP CONSTRAINT response_items_pkey;
ALTER TABLE response_items DROP COLUMN side, DROP COLUMN owner, DROP COLUMN body;
ALTER TABLE response_items ADD PRIMARY KEY (response_id, position);
DROP INDEX response_items_call_id;
-- Only calls have a call_id.
CREATE INDEX response_items_call_id ON response_items (call_id) WHERE call_id IS NOT NULL;
