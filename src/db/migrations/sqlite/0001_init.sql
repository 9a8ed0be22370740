-- 0001_init (SQLite) — the first schema of printdesk. Kept column for
-- column in step with postgres/0001_init.sql. Times are INTEGER
-- milliseconds since the epoch; Shopify ids are 64-bit integers.

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    id_kind TEXT NOT NULL CHECK (id_kind IN ('customer', 'admin_user')),
    external_id TEXT NOT NULL,
    name TEXT,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'fulfiller', 'admin')),
    disabled_at INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (id_kind, external_id)
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    shopify_id INTEGER UNIQUE,
    order_number INTEGER,
    name TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
        ('pending', 'in_production', 'printed', 'completed', 'on_hold',
         'cancelled')),
    financial_status TEXT,
    fulfillment_status TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    shopify_created_at INTEGER,
    shopify_updated_at INTEGER,
    status_changed_at INTEGER,
    claimed_by INTEGER REFERENCES staff (id) ON DELETE SET NULL,
    claimed_at INTEGER,
    customer_name_enc BLOB,
    email_enc BLOB,
    phone_enc BLOB,
    address_enc BLOB,
    pii_key_id INTEGER,
    email_bidx BLOB,
    note TEXT,
    tags TEXT,
    currency TEXT,
    total_price TEXT,
    warning_flags INTEGER NOT NULL DEFAULT 0,
    search_text TEXT NOT NULL DEFAULT ''
);

CREATE INDEX orders_status_created_idx
    ON orders (status, created_at DESC, id DESC);
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_email_bidx_idx ON orders (email_bidx);
CREATE INDEX orders_number_idx ON orders (order_number);
CREATE INDEX orders_lower_name_idx ON orders (lower(name));

-- Full-text search over orders.search_text; triggers keep it in step.
CREATE VIRTUAL TABLE orders_fts USING fts5 (
    search_text,
    content = 'orders',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER orders_fts_insert AFTER INSERT ON orders BEGIN
    INSERT INTO orders_fts (rowid, search_text)
        VALUES (new.id, new.search_text);
END;

CREATE TRIGGER orders_fts_delete AFTER DELETE ON orders BEGIN
    INSERT INTO orders_fts (orders_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
END;

CREATE TRIGGER orders_fts_update AFTER UPDATE OF search_text ON orders BEGIN
    INSERT INTO orders_fts (orders_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    INSERT INTO orders_fts (rowid, search_text)
        VALUES (new.id, new.search_text);
END;

CREATE TABLE images (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('original', 'processed')),
    order_id INTEGER REFERENCES orders (id) ON DELETE SET NULL,
    -- Not unique: identical bytes may back several rows (demo data,
    -- the same photo in two sessions); storage is freed when the last
    -- row that names a key lets go of it.
    object_key TEXT NOT NULL,
    thumb_key TEXT,
    preview_key TEXT,
    tier TEXT NOT NULL DEFAULT 'temporary' CHECK (tier IN
        ('temporary', 'order_pending', 'order_completed', 'archived')),
    bytes INTEGER NOT NULL DEFAULT 0,
    width INTEGER,
    height INTEGER,
    format TEXT,
    sha256 TEXT NOT NULL,
    orientation INTEGER,
    dpi INTEGER,
    created_at INTEGER NOT NULL,
    tier_changed_at INTEGER,
    deleted_at INTEGER,
    UNIQUE (session_id, kind, sha256)
);

CREATE INDEX images_session_idx ON images (session_id);
CREATE INDEX images_object_key_idx ON images (object_key);
CREATE INDEX images_order_idx ON images (order_id);
CREATE INDEX images_tier_created_idx ON images (tier, created_at);

CREATE TABLE pets (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_item_id INTEGER,
    position INTEGER NOT NULL DEFAULT 0,
    pet_name TEXT,
    product_title TEXT,
    variant_title TEXT,
    print_size TEXT,
    quantity INTEGER NOT NULL DEFAULT 1,
    session_id TEXT,
    original_image_id TEXT REFERENCES images (id) ON DELETE SET NULL,
    processed_image_id TEXT REFERENCES images (id) ON DELETE SET NULL,
    wanted_original_ref TEXT,
    wanted_processed_ref TEXT
);

CREATE INDEX pets_order_idx ON pets (order_id);
CREATE INDEX pets_session_idx ON pets (session_id);

CREATE TABLE status_history (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor TEXT NOT NULL,
    at INTEGER NOT NULL,
    idempotency_key TEXT UNIQUE
);

CREATE INDEX status_history_order_idx ON status_history (order_id, at);

CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    idempotency_key TEXT UNIQUE
);

CREATE INDEX notes_order_idx ON notes (order_id);

-- No foreign key on order_id: the trail outlives a redacted order.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT,
    target_id TEXT,
    order_id INTEGER,
    remote_addr TEXT,
    detail TEXT
);

CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_order_idx ON audit_log (order_id);

CREATE TABLE webhook_inbox (
    id INTEGER PRIMARY KEY,
    webhook_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    shop TEXT,
    api_version TEXT,
    headers TEXT,
    body BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'received' CHECK (state IN
        ('received', 'applied', 'failed', 'ignored')),
    error TEXT,
    applied_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX webhook_inbox_state_idx ON webhook_inbox (state, received_at);

CREATE TABLE upload_sessions (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    image_count INTEGER NOT NULL DEFAULT 0,
    client_addr TEXT
);

CREATE TABLE tus_uploads (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    image_type TEXT NOT NULL,
    length INTEGER,
    upload_offset INTEGER NOT NULL DEFAULT 0,
    metadata TEXT,
    staging_key TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'receiving',
    image_id TEXT REFERENCES images (id) ON DELETE SET NULL
);

CREATE INDEX tus_uploads_expires_idx ON tus_uploads (expires_at);

CREATE TABLE used_tokens (
    token_id TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE INDEX used_tokens_expires_idx ON used_tokens (expires_at);

CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    staff_id INTEGER REFERENCES staff (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    response TEXT
);

CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE data_exports (
    id INTEGER PRIMARY KEY,
    customer_ref TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    object_key TEXT,
    requested_by TEXT
);
