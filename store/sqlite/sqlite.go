// Package sqlite is the embedded backend of store.Store: one SQLite file,
// through the pure-Go driver modernc.org/sqlite, so the service runs with no
// database server and no cgo.
//
// The schema is created or migrated when the database is opened. The file is
// in WAL mode (readers do not block the writer), with foreign keys on and a
// busy timeout, so concurrent requests wait for each other instead of failing.
//
// The package starts no goroutines. In particular, expired refresh tokens stay
// until the caller runs PurgeExpiredRefreshTokens, typically on a timer; on
// MongoDB a TTL index removes them on its own.
//
// Unlike MongoDB, SQLite enforces that a record's user_id names an existing
// user: creating a token, image or video for an unknown user is
// store.ErrNotFound.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"imageenhancer/store"
)

var _ store.Store = (*DB)(nil)

// DB is a store.Store kept in one SQLite file. It is safe for concurrent use.
type DB struct {
	db *sql.DB
}

// busyTimeout is how long a statement waits for another connection's write
// lock. Every write here is one short statement or a short transaction, so
// waiting longer than this means something is stuck.
const busyTimeout = 5 * time.Second

// defaultPerPage is the manual's default page size for lists.
const defaultPerPage = 10

// timeLayout is how times are stored: UTC, fixed width with nanoseconds, so
// that text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Open opens the SQLite database at path, creating the file if it does not
// exist, and brings its schema up to date. The directory must exist. The
// database must be a file, not ":memory:": each pooled connection would see
// its own empty in-memory database.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: open %q: want a plain file path", path)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// NORMAL is durable across application crashes in WAL mode; only a
	// power loss can drop the last commits.
	q.Add("_pragma", "synchronous(NORMAL)")
	// Write transactions take the write lock at BEGIN: a deferred
	// transaction that reads and then writes can fail with SQLITE_BUSY at
	// once, without waiting out busy_timeout, when another writer got there
	// first. Read-only transactions stay deferred.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %v", path, err)
	}
	s := &DB{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	return s, nil
}

// migrate runs the migrations the database has not seen yet, in one
// transaction.
func (s *DB) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return internal("migrate", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return internal("migrate", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this program's %d", version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return internal(fmt.Sprintf("migrate to version %d", i+1), err)
		}
	}
	// PRAGMA takes no bound parameters; the value is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return internal("migrate", err)
	}
	if err := tx.Commit(); err != nil {
		return internal("migrate", err)
	}
	return nil
}

// Ping reports whether the database answers.
func (s *DB) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return internal("ping", err)
	}
	return nil
}

// Close closes the database. The context is unused: closing a file does not
// wait on anything remote.
func (s *DB) Close(ctx context.Context) error {
	if err := s.db.Close(); err != nil {
		return internal("close", err)
	}
	return nil
}

// newID returns 24 hexadecimal characters shaped like a MongoDB ObjectID: a
// 4-byte big-endian Unix time in seconds, then 8 random bytes, so both
// backends hand out ids of the same form.
func newID() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	rand.Read(b[4:]) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b[:])
}

// now is the time a record gets when its caller left CreatedAt zero.
func now() time.Time { return time.Now().UTC() }

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func formatNullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

func nullString(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// timeCol scans a TEXT column written by formatTime.
type timeCol struct{ dst *time.Time }

func (c timeCol) Scan(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("time column holds %T, want text", v)
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return err
	}
	*c.dst = t.UTC()
	return nil
}

// nullTimeCol scans a nullable TEXT column written by formatNullTime.
type nullTimeCol struct{ dst **time.Time }

func (c nullTimeCol) Scan(v any) error {
	if v == nil {
		*c.dst = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(v); err != nil {
		return err
	}
	*c.dst = &t
	return nil
}

// translate turns a driver error into the store's kinds: a unique constraint
// is ErrConflict, a missing row or a user_id naming no user is ErrNotFound,
// anything else an internal error.
func translate(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w (sqlite: %s: %v)", store.ErrConflict, op, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: no such user (sqlite: %s: %v)", store.ErrNotFound, op, err)
		}
	}
	return internal(op, err)
}

// internal wraps an error no caller can act on. A driver error is kept as
// text only, so that no caller comes to depend on the driver's types; a
// context error stays matchable with errors.Is.
func internal(op string, err error) error {
	for _, c := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, c) {
			return fmt.Errorf("sqlite: %s: %v: %w", op, err, c)
		}
	}
	return fmt.Errorf("sqlite: %s: %v", op, err)
}

// checkOne turns "no row affected" into ErrNotFound.
func checkOne(op string, res sql.Result, err error) error {
	if err != nil {
		return translate(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return internal(op, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Users.

const userCols = `id, username, email, hashed_password, is_active, created_at, updated_at`

// CreateUser inserts u and sets u.ID. A zero CreatedAt or UpdatedAt is set to
// now. A taken username or email is store.ErrConflict.
func (s *DB) CreateUser(ctx context.Context, u *store.User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	id := newID()
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, u.Username, u.Email, u.HashedPassword, u.IsActive, formatTime(u.CreatedAt), formatTime(u.UpdatedAt))
	if err != nil {
		return translate("create user", err)
	}
	u.ID = id
	return nil
}

func scanUser(row *sql.Row) (*store.User, error) {
	var u store.User
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.HashedPassword, &u.IsActive,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// UserByID returns the user with this id.
func (s *DB) UserByID(ctx context.Context, id string) (*store.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if err != nil {
		return nil, translate("user by id", err)
	}
	return u, nil
}

// UserByEmail returns the user with this email, compared exactly: callers
// normalise emails before storing and looking them up.
func (s *DB) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE email = ?`, email))
	if err != nil {
		return nil, translate("user by email", err)
	}
	return u, nil
}

// Refresh tokens.

const tokenCols = `id, user_id, token_hash, expires_at, created_at, revoked_at`

// CreateRefreshToken inserts t and sets t.ID. A zero CreatedAt is set to now.
// A taken hash is store.ErrConflict.
func (s *DB) CreateRefreshToken(ctx context.Context, t *store.RefreshToken) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	id := newID()
	_, err := s.db.ExecContext(ctx, `INSERT INTO refresh_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		id, t.UserID, t.TokenHash, formatTime(t.ExpiresAt), formatTime(t.CreatedAt), formatNullTime(t.RevokedAt))
	if err != nil {
		return translate("create refresh token", err)
	}
	t.ID = id
	return nil
}

// RefreshTokenByHash returns the token with this hash, revoked or not,
// expired or not (until purged).
func (s *DB) RefreshTokenByHash(ctx context.Context, hash string) (*store.RefreshToken, error) {
	var t store.RefreshToken
	err := s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM refresh_tokens WHERE token_hash = ?`, hash).
		Scan(&t.ID, &t.UserID, &t.TokenHash, timeCol{&t.ExpiresAt}, timeCol{&t.CreatedAt}, nullTimeCol{&t.RevokedAt})
	if err != nil {
		return nil, translate("refresh token by hash", err)
	}
	return &t, nil
}

// RevokeRefreshToken sets the token's RevokedAt to at unless it is set
// already, and reports whether this call set it. An unknown hash is
// store.ErrNotFound.
func (s *DB) RevokeRefreshToken(ctx context.Context, hash string, at time.Time) (bool, error) {
	// One transaction so that "not revoked by us" and "exists" agree: the
	// token cannot be purged in between.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, internal("revoke refresh token", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL`,
		formatTime(at), hash)
	if err != nil {
		return false, translate("revoke refresh token", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, internal("revoke refresh token", err)
	}
	if n == 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM refresh_tokens WHERE token_hash = ?`, hash).Scan(&one)
		if err != nil {
			return false, translate("revoke refresh token", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, internal("revoke refresh token", err)
	}
	return n == 1, nil
}

// RevokeUserRefreshTokens sets RevokedAt to at on every token of the user
// that is not revoked yet. A user with no tokens is not an error.
func (s *DB) RevokeUserRefreshTokens(ctx context.Context, userID string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`,
		formatTime(at), userID)
	if err != nil {
		return translate("revoke user refresh tokens", err)
	}
	return nil
}

// PurgeExpiredRefreshTokens deletes the tokens whose ExpiresAt is before now,
// revoked or not. Nothing calls it on its own: run it on a timer.
func (s *DB) PurgeExpiredRefreshTokens(ctx context.Context, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE expires_at < ?`, formatTime(now))
	if err != nil {
		return translate("purge expired refresh tokens", err)
	}
	return nil
}

// Lists.

// normalize applies the manual's defaults to a ListOptions the caller did
// not fill in: page 1, 10 per page.
func normalize(opt store.ListOptions) store.ListOptions {
	if opt.Page < 1 {
		opt.Page = 1
	}
	if opt.PerPage < 1 {
		opt.PerPage = defaultPerPage
	}
	return opt
}

// list runs the count and the page query of a user's images or videos in one
// read transaction, so that total and page agree. scan is called per row.
func (s *DB) list(ctx context.Context, op, table, cols, userID string, opt store.ListOptions, scan func(*sql.Rows) error) (int64, error) {
	opt = normalize(opt)
	where := ` WHERE user_id = ?`
	args := []any{userID}
	if opt.Status != "" {
		where += ` AND status = ?`
		args = append(args, opt.Status)
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, internal(op, err)
	}
	defer tx.Rollback()
	var total int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+table+where, args...).Scan(&total); err != nil {
		return 0, translate(op, err)
	}
	offset := int64(opt.Page-1) * int64(opt.PerPage)
	if offset >= total {
		return total, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+cols+` FROM `+table+where+
		` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, append(args, opt.PerPage, offset)...)
	if err != nil {
		return 0, translate(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return 0, translate(op, err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, translate(op, err)
	}
	return total, nil
}

// Images.

const imageCols = `id, user_id, original_filename, description, original_path, enhanced_path,
	original_width, original_height, enhanced_width, enhanced_height, output_width, output_height,
	model_type, scale, face_enhance, status, error_message, processing_time_ms, gpu_used,
	created_at, completed_at`

type scanner interface{ Scan(dest ...any) error }

func scanImage(r scanner) (store.Image, error) {
	var im store.Image
	err := r.Scan(&im.ID, &im.UserID, &im.OriginalFilename, &im.Description, &im.OriginalPath, &im.EnhancedPath,
		&im.OriginalWidth, &im.OriginalHeight, &im.EnhancedWidth, &im.EnhancedHeight, &im.OutputWidth, &im.OutputHeight,
		&im.ModelType, &im.Scale, &im.FaceEnhance, &im.Status, &im.ErrorMessage, &im.ProcessingTimeMS, &im.GPUUsed,
		timeCol{&im.CreatedAt}, nullTimeCol{&im.CompletedAt})
	return im, err
}

// CreateImage inserts im and sets im.ID. A zero CreatedAt is set to now.
func (s *DB) CreateImage(ctx context.Context, im *store.Image) error {
	if im.CreatedAt.IsZero() {
		im.CreatedAt = now()
	}
	id := newID()
	_, err := s.db.ExecContext(ctx, `INSERT INTO images (`+imageCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, im.UserID, im.OriginalFilename, im.Description, im.OriginalPath, im.EnhancedPath,
		im.OriginalWidth, im.OriginalHeight, im.EnhancedWidth, im.EnhancedHeight, nullInt(im.OutputWidth), nullInt(im.OutputHeight),
		im.ModelType, im.Scale, im.FaceEnhance, im.Status, nullString(im.ErrorMessage), im.ProcessingTimeMS, im.GPUUsed,
		formatTime(im.CreatedAt), formatNullTime(im.CompletedAt))
	if err != nil {
		return translate("create image", err)
	}
	im.ID = id
	return nil
}

// ImageByID returns the user's image with this id; another user's image is
// store.ErrNotFound.
func (s *DB) ImageByID(ctx context.Context, userID, id string) (*store.Image, error) {
	im, err := scanImage(s.db.QueryRowContext(ctx, `SELECT `+imageCols+` FROM images WHERE id = ? AND user_id = ?`, id, userID))
	if err != nil {
		return nil, translate("image by id", err)
	}
	return &im, nil
}

// ListImages returns one page of the user's images, newest first (never a
// nil slice), and how many there are in all. A zero Page or PerPage takes the
// manual's default (1 and 10).
func (s *DB) ListImages(ctx context.Context, userID string, opt store.ListOptions) ([]store.Image, int64, error) {
	images := []store.Image{}
	total, err := s.list(ctx, "list images", "images", imageCols, userID, opt, func(r *sql.Rows) error {
		im, err := scanImage(r)
		images = append(images, im)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return images, total, nil
}

// DeleteImage deletes the user's image with this id; another user's image is
// store.ErrNotFound.
func (s *DB) DeleteImage(ctx context.Context, userID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM images WHERE id = ? AND user_id = ?`, id, userID)
	return checkOne("delete image", res, err)
}

// Videos.

const videoCols = `id, user_id, original_filename, description, original_path, enhanced_path,
	model_type, scale, face_enhance, duration_seconds, fps, frame_count,
	original_width, original_height, enhanced_width, enhanced_height,
	status, error_message, processing_time_ms, gpu_used, frames_processed, created_at, completed_at`

func scanVideo(r scanner) (store.Video, error) {
	var v store.Video
	err := r.Scan(&v.ID, &v.UserID, &v.OriginalFilename, &v.Description, &v.OriginalPath, &v.EnhancedPath,
		&v.ModelType, &v.Scale, &v.FaceEnhance, &v.DurationSeconds, &v.FPS, &v.FrameCount,
		&v.OriginalWidth, &v.OriginalHeight, &v.EnhancedWidth, &v.EnhancedHeight,
		&v.Status, &v.ErrorMessage, &v.ProcessingTimeMS, &v.GPUUsed, &v.FramesProcessed,
		timeCol{&v.CreatedAt}, nullTimeCol{&v.CompletedAt})
	return v, err
}

// CreateVideo inserts v and sets v.ID. A zero CreatedAt is set to now.
func (s *DB) CreateVideo(ctx context.Context, v *store.Video) error {
	if v.CreatedAt.IsZero() {
		v.CreatedAt = now()
	}
	id := newID()
	_, err := s.db.ExecContext(ctx, `INSERT INTO videos (`+videoCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, v.UserID, v.OriginalFilename, v.Description, v.OriginalPath, v.EnhancedPath,
		v.ModelType, v.Scale, v.FaceEnhance, v.DurationSeconds, v.FPS, v.FrameCount,
		v.OriginalWidth, v.OriginalHeight, v.EnhancedWidth, v.EnhancedHeight,
		v.Status, nullString(v.ErrorMessage), v.ProcessingTimeMS, v.GPUUsed, v.FramesProcessed,
		formatTime(v.CreatedAt), formatNullTime(v.CompletedAt))
	if err != nil {
		return translate("create video", err)
	}
	v.ID = id
	return nil
}

// VideoByID returns the user's video with this id; another user's video is
// store.ErrNotFound.
func (s *DB) VideoByID(ctx context.Context, userID, id string) (*store.Video, error) {
	v, err := scanVideo(s.db.QueryRowContext(ctx, `SELECT `+videoCols+` FROM videos WHERE id = ? AND user_id = ?`, id, userID))
	if err != nil {
		return nil, translate("video by id", err)
	}
	return &v, nil
}

// ListVideos returns one page of the user's videos, newest first (never a
// nil slice), and how many there are in all. A zero Page or PerPage takes the
// manual's default (1 and 10).
func (s *DB) ListVideos(ctx context.Context, userID string, opt store.ListOptions) ([]store.Video, int64, error) {
	videos := []store.Video{}
	total, err := s.list(ctx, "list videos", "videos", videoCols, userID, opt, func(r *sql.Rows) error {
		v, err := scanVideo(r)
		videos = append(videos, v)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return videos, total, nil
}

// UpdateVideo writes every field of v but ID, UserID and CreatedAt to the
// video with id v.ID, whoever owns it (the video worker calls it).
func (s *DB) UpdateVideo(ctx context.Context, v *store.Video) error {
	res, err := s.db.ExecContext(ctx, `UPDATE videos SET
		original_filename = ?, description = ?, original_path = ?, enhanced_path = ?,
		model_type = ?, scale = ?, face_enhance = ?, duration_seconds = ?, fps = ?, frame_count = ?,
		original_width = ?, original_height = ?, enhanced_width = ?, enhanced_height = ?,
		status = ?, error_message = ?, processing_time_ms = ?, gpu_used = ?, frames_processed = ?,
		completed_at = ?
		WHERE id = ?`,
		v.OriginalFilename, v.Description, v.OriginalPath, v.EnhancedPath,
		v.ModelType, v.Scale, v.FaceEnhance, v.DurationSeconds, v.FPS, v.FrameCount,
		v.OriginalWidth, v.OriginalHeight, v.EnhancedWidth, v.EnhancedHeight,
		v.Status, nullString(v.ErrorMessage), v.ProcessingTimeMS, v.GPUUsed, v.FramesProcessed,
		formatNullTime(v.CompletedAt), v.ID)
	return checkOne("update video", res, err)
}

// UpdateVideoProgress sets the video's FramesProcessed, whoever owns it.
func (s *DB) UpdateVideoProgress(ctx context.Context, id string, framesProcessed int) error {
	res, err := s.db.ExecContext(ctx, `UPDATE videos SET frames_processed = ? WHERE id = ?`, framesProcessed, id)
	return checkOne("update video progress", res, err)
}

// DeleteVideo deletes the user's video with this id; another user's video is
// store.ErrNotFound.
func (s *DB) DeleteVideo(ctx context.Context, userID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM videos WHERE id = ? AND user_id = ?`, id, userID)
	return checkOne("delete video", res, err)
}

// VideosByStatus returns every user's videos in any of these statuses,
// oldest first. No statuses, no videos.
func (s *DB) VideosByStatus(ctx context.Context, statuses ...string) ([]store.Video, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = st
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(statuses)), ", ")
	rows, err := s.db.QueryContext(ctx, `SELECT `+videoCols+` FROM videos WHERE status IN (`+marks+`)
		ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, translate("videos by status", err)
	}
	defer rows.Close()
	var videos []store.Video
	for rows.Next() {
		v, err := scanVideo(rows)
		if err != nil {
			return nil, translate("videos by status", err)
		}
		videos = append(videos, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("videos by status", err)
	}
	return videos, nil
}
