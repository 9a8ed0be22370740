-- 0002_lookup_indexes — indexes for finding who still names a stored
-- object or an image: redactions and retention check them per file.
CREATE INDEX images_thumb_key_idx ON images (thumb_key);
CREATE INDEX images_preview_key_idx ON images (preview_key);
CREATE INDEX pets_original_image_idx ON pets (original_image_id);
CREATE INDEX pets_processed_image_idx ON pets (processed_image_id);
