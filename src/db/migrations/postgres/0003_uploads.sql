-- 0003_uploads: what storefront uploads need beyond the first schema —
-- the pet an image was sent for, and the received pieces of each tus
-- upload (one stored object per PATCH, chained by offset).

ALTER TABLE images ADD COLUMN pet_index INTEGER;
ALTER TABLE images ADD COLUMN mime TEXT;
ALTER TABLE tus_uploads ADD COLUMN pet_index INTEGER;

CREATE TABLE tus_parts (
    upload_id TEXT NOT NULL REFERENCES tus_uploads (id) ON DELETE CASCADE,
    part_offset BIGINT NOT NULL,
    length BIGINT NOT NULL,
    object_key TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_offset)
);
