package sqlite

// migrations[i] brings a database from schema version i to i+1; the version
// is kept in PRAGMA user_version. Append to this list, never edit an entry
// that has shipped: databases in the field already ran it.
var migrations = []string{
	// 1: the four collections of ARQUITECTURA.md, one column per field.
	// Times are TEXT in timeLayout (fixed width, UTC), so text order is time
	// order and comparisons in SQL need no conversion.
	`
CREATE TABLE users (
	id              TEXT PRIMARY KEY,
	username        TEXT NOT NULL UNIQUE,
	email           TEXT NOT NULL UNIQUE,
	hashed_password TEXT NOT NULL,
	is_active       INTEGER NOT NULL,
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL
) STRICT;

CREATE TABLE refresh_tokens (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	token_hash TEXT NOT NULL UNIQUE,
	expires_at TEXT NOT NULL,
	created_at TEXT NOT NULL,
	revoked_at TEXT
) STRICT;
CREATE INDEX refresh_tokens_user_id ON refresh_tokens(user_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens(expires_at);

CREATE TABLE images (
	id                 TEXT PRIMARY KEY,
	user_id            TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	original_filename  TEXT NOT NULL,
	description        TEXT NOT NULL,
	original_path      TEXT NOT NULL,
	enhanced_path      TEXT NOT NULL,
	original_width     INTEGER NOT NULL,
	original_height    INTEGER NOT NULL,
	enhanced_width     INTEGER NOT NULL,
	enhanced_height    INTEGER NOT NULL,
	output_width       INTEGER,
	output_height      INTEGER,
	model_type         TEXT NOT NULL,
	scale              INTEGER NOT NULL,
	face_enhance       INTEGER NOT NULL,
	status             TEXT NOT NULL,
	error_message      TEXT,
	processing_time_ms INTEGER NOT NULL,
	gpu_used           INTEGER NOT NULL,
	created_at         TEXT NOT NULL,
	completed_at       TEXT
) STRICT;
CREATE INDEX images_user_id_created_at ON images(user_id, created_at);

CREATE TABLE videos (
	id                 TEXT PRIMARY KEY,
	user_id            TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	original_filename  TEXT NOT NULL,
	description        TEXT NOT NULL,
	original_path      TEXT NOT NULL,
	enhanced_path      TEXT NOT NULL,
	model_type         TEXT NOT NULL,
	scale              INTEGER NOT NULL,
	face_enhance       INTEGER NOT NULL,
	duration_seconds   REAL NOT NULL,
	fps                REAL NOT NULL,
	frame_count        INTEGER NOT NULL,
	original_width     INTEGER NOT NULL,
	original_height    INTEGER NOT NULL,
	enhanced_width     INTEGER NOT NULL,
	enhanced_height    INTEGER NOT NULL,
	status             TEXT NOT NULL,
	error_message      TEXT,
	processing_time_ms INTEGER NOT NULL,
	gpu_used           INTEGER NOT NULL,
	frames_processed   INTEGER NOT NULL,
	created_at         TEXT NOT NULL,
	completed_at       TEXT
) STRICT;
CREATE INDEX videos_user_id_created_at ON videos(user_id, created_at);
CREATE INDEX videos_status_created_at ON videos(status, created_at);
`,
}
