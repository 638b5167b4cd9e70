// Package mongo is the MongoDB backend of store.Store, through the official
// driver go.mongodb.org/mongo-driver/v2, with the collections and field names
// of ARQUITECTURA.md: users, refresh_tokens, images and videos.
//
// The documents differ from the seed's only by additions:
//   - refresh_tokens.token holds the SHA-256 (hex) of the refresh token, never
//     the token itself, and refresh_tokens.revoked_at marks a rotated or
//     logged-out token (null while it is valid);
//   - images.output_width and images.output_height keep the size the client
//     asked for (null when it asked for none).
//
// An optional field that is not set is stored as null.
//
// Open creates the indexes: users.email and users.username unique,
// refresh_tokens.token unique, a TTL index on refresh_tokens.expires_at (the
// server deletes expired tokens on its own, about once a minute, so
// PurgeExpiredRefreshTokens is only needed for an immediate purge), and
// {user_id: 1, created_at: -1} on images and videos.
//
// A standalone server has no multi-document transactions, so a list's total
// and its page are two reads that a concurrent write can set apart. Every
// other method is a single-document operation, atomic on the server.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"imageenhancer/store"
)

var _ store.Store = (*DB)(nil)

// DB is a store.Store in one MongoDB database. It is safe for concurrent use.
type DB struct {
	client *mongodriver.Client
	db     *mongodriver.Database
	users  *mongodriver.Collection
	tokens *mongodriver.Collection
	images *mongodriver.Collection
	videos *mongodriver.Collection
}

// defaultPerPage is the manual's default page size for lists.
const defaultPerPage = 10

// Open connects to the MongoDB server at uri (a mongodb:// or mongodb+srv://
// connection string), checks that it answers and creates the indexes of the
// database dbName. ctx bounds all of that; without a deadline the driver's
// server selection gives up after 30 seconds.
func Open(ctx context.Context, uri, dbName string) (*DB, error) {
	// The uri is left out of errors: it may carry a password.
	client, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, internal("connect", err)
	}
	db := client.Database(dbName)
	s := &DB{
		client: client,
		db:     db,
		users:  db.Collection("users"),
		tokens: db.Collection("refresh_tokens"),
		images: db.Collection("images"),
		videos: db.Collection("videos"),
	}
	if err := s.Ping(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	if err := s.createIndexes(ctx); err != nil {
		client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

// createIndexes creates the indexes the queries and the unique fields need.
// Creating an index that exists with the same options does nothing.
func (s *DB) createIndexes(ctx context.Context) error {
	unique := func() *options.IndexOptionsBuilder { return options.Index().SetUnique(true) }
	byUserNewest := mongodriver.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "created_at", Value: -1}}}
	indexes := []struct {
		coll   *mongodriver.Collection
		models []mongodriver.IndexModel
	}{
		{s.users, []mongodriver.IndexModel{
			{Keys: bson.D{{Key: "email", Value: 1}}, Options: unique()},
			{Keys: bson.D{{Key: "username", Value: 1}}, Options: unique()},
		}},
		{s.tokens, []mongodriver.IndexModel{
			{Keys: bson.D{{Key: "token", Value: 1}}, Options: unique()},
			// expireAfterSeconds 0: a token goes at its own expires_at.
			{Keys: bson.D{{Key: "expires_at", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(0)},
			{Keys: bson.D{{Key: "user_id", Value: 1}}},
		}},
		{s.images, []mongodriver.IndexModel{byUserNewest}},
		{s.videos, []mongodriver.IndexModel{
			byUserNewest,
			{Keys: bson.D{{Key: "status", Value: 1}, {Key: "created_at", Value: 1}}},
		}},
	}
	for _, ix := range indexes {
		if _, err := ix.coll.Indexes().CreateMany(ctx, ix.models); err != nil {
			return internal("create indexes on "+ix.coll.Name(), err)
		}
	}
	return nil
}

// Ping reports whether the primary answers.
func (s *DB) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return internal("ping", err)
	}
	return nil
}

// Close closes the connections, waiting for operations in progress until ctx
// is done.
func (s *DB) Close(ctx context.Context) error {
	if err := s.client.Disconnect(ctx); err != nil {
		return internal("close", err)
	}
	return nil
}

// translate turns a driver error into the store's kinds: no document is
// ErrNotFound, a duplicate key ErrConflict, anything else an internal error.
func translate(op string, err error) error {
	switch {
	case errors.Is(err, mongodriver.ErrNoDocuments):
		return store.ErrNotFound
	case mongodriver.IsDuplicateKeyError(err):
		return fmt.Errorf("%w (mongo: %s: %v)", store.ErrConflict, op, err)
	}
	return internal(op, err)
}

// internal wraps an error no caller can act on. A driver error is kept as
// text only, so that no caller comes to depend on the driver's types; a
// context error stays matchable with errors.Is.
func internal(op string, err error) error {
	for _, c := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, c) {
			return fmt.Errorf("mongo: %s: %v: %w", op, err, c)
		}
	}
	return fmt.Errorf("mongo: %s: %v", op, err)
}

// objectID parses an id. One that is not an ObjectID names no document, so
// it is ErrNotFound, as on SQLite.
func objectID(id string) (bson.ObjectID, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return bson.ObjectID{}, store.ErrNotFound
	}
	return oid, nil
}

// now is the time a record gets when its caller left CreatedAt zero.
func now() time.Time { return time.Now().UTC() }

// Users.

type userDoc struct {
	ID             bson.ObjectID `bson:"_id"`
	Username       string        `bson:"username"`
	Email          string        `bson:"email"`
	HashedPassword string        `bson:"hashed_password"`
	IsActive       bool          `bson:"is_active"`
	CreatedAt      time.Time     `bson:"created_at"`
	UpdatedAt      time.Time     `bson:"updated_at"`
}

func (d *userDoc) user() *store.User {
	return &store.User{
		ID:             d.ID.Hex(),
		Username:       d.Username,
		Email:          d.Email,
		HashedPassword: d.HashedPassword,
		IsActive:       d.IsActive,
		CreatedAt:      d.CreatedAt,
		UpdatedAt:      d.UpdatedAt,
	}
}

// CreateUser inserts u and sets u.ID. A zero CreatedAt or UpdatedAt is set to
// now. A taken username or email is store.ErrConflict.
func (s *DB) CreateUser(ctx context.Context, u *store.User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	d := userDoc{
		ID:             bson.NewObjectID(),
		Username:       u.Username,
		Email:          u.Email,
		HashedPassword: u.HashedPassword,
		IsActive:       u.IsActive,
		CreatedAt:      u.CreatedAt,
		UpdatedAt:      u.UpdatedAt,
	}
	if _, err := s.users.InsertOne(ctx, d); err != nil {
		return translate("create user", err)
	}
	u.ID = d.ID.Hex()
	return nil
}

func (s *DB) findUser(ctx context.Context, op string, filter bson.D) (*store.User, error) {
	var d userDoc
	if err := s.users.FindOne(ctx, filter).Decode(&d); err != nil {
		return nil, translate(op, err)
	}
	return d.user(), nil
}

// UserByID returns the user with this id.
func (s *DB) UserByID(ctx context.Context, id string) (*store.User, error) {
	oid, err := objectID(id)
	if err != nil {
		return nil, err
	}
	return s.findUser(ctx, "user by id", bson.D{{Key: "_id", Value: oid}})
}

// UserByEmail returns the user with this email, compared exactly: callers
// normalise emails before storing and looking them up.
func (s *DB) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	return s.findUser(ctx, "user by email", bson.D{{Key: "email", Value: email}})
}

// Refresh tokens.

type tokenDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	UserID    string        `bson:"user_id"`
	Token     string        `bson:"token"` // the hash: see the package comment
	ExpiresAt time.Time     `bson:"expires_at"`
	CreatedAt time.Time     `bson:"created_at"`
	RevokedAt *time.Time    `bson:"revoked_at"`
}

// CreateRefreshToken inserts t and sets t.ID. A zero CreatedAt is set to now.
// A taken hash is store.ErrConflict.
func (s *DB) CreateRefreshToken(ctx context.Context, t *store.RefreshToken) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	d := tokenDoc{
		ID:        bson.NewObjectID(),
		UserID:    t.UserID,
		Token:     t.TokenHash,
		ExpiresAt: t.ExpiresAt,
		CreatedAt: t.CreatedAt,
		RevokedAt: t.RevokedAt,
	}
	if _, err := s.tokens.InsertOne(ctx, d); err != nil {
		return translate("create refresh token", err)
	}
	t.ID = d.ID.Hex()
	return nil
}

// RefreshTokenByHash returns the token with this hash, revoked or not,
// expired or not (until purged).
func (s *DB) RefreshTokenByHash(ctx context.Context, hash string) (*store.RefreshToken, error) {
	var d tokenDoc
	if err := s.tokens.FindOne(ctx, bson.D{{Key: "token", Value: hash}}).Decode(&d); err != nil {
		return nil, translate("refresh token by hash", err)
	}
	return &store.RefreshToken{
		ID:        d.ID.Hex(),
		UserID:    d.UserID,
		TokenHash: d.Token,
		ExpiresAt: d.ExpiresAt,
		CreatedAt: d.CreatedAt,
		RevokedAt: d.RevokedAt,
	}, nil
}

// notRevoked matches a token whose revoked_at is null (or missing, in a
// document written before the field existed).
var notRevoked = bson.E{Key: "revoked_at", Value: nil}

// RevokeRefreshToken sets the token's RevokedAt to at unless it is set
// already, and reports whether this call set it. An unknown hash is
// store.ErrNotFound.
func (s *DB) RevokeRefreshToken(ctx context.Context, hash string, at time.Time) (bool, error) {
	// The filter is checked and the update applied atomically on the one
	// document: of two concurrent calls, the second matches nothing.
	res, err := s.tokens.UpdateOne(ctx,
		bson.D{{Key: "token", Value: hash}, notRevoked},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: at}}}})
	if err != nil {
		return false, translate("revoke refresh token", err)
	}
	if res.MatchedCount == 1 {
		return true, nil
	}
	n, err := s.tokens.CountDocuments(ctx, bson.D{{Key: "token", Value: hash}})
	if err != nil {
		return false, translate("revoke refresh token", err)
	}
	if n == 0 {
		return false, store.ErrNotFound
	}
	return false, nil
}

// RevokeUserRefreshTokens sets RevokedAt to at on every token of the user
// that is not revoked yet. A user with no tokens is not an error.
func (s *DB) RevokeUserRefreshTokens(ctx context.Context, userID string, at time.Time) error {
	_, err := s.tokens.UpdateMany(ctx,
		bson.D{{Key: "user_id", Value: userID}, notRevoked},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: at}}}})
	if err != nil {
		return translate("revoke user refresh tokens", err)
	}
	return nil
}

// PurgeExpiredRefreshTokens deletes the tokens whose ExpiresAt is before now,
// revoked or not. The TTL index does the same on its own, a minute or so late.
func (s *DB) PurgeExpiredRefreshTokens(ctx context.Context, now time.Time) error {
	_, err := s.tokens.DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}}})
	if err != nil {
		return translate("purge expired refresh tokens", err)
	}
	return nil
}

// Lists.

// newestFirst and oldestFirst order records by creation, then by id so that
// records created in the same millisecond keep one order.
var (
	newestFirst = bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}
	oldestFirst = bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}
)

// list counts the user's records in coll that match opt and decodes one page
// of them, newest first, into docs (a pointer to a slice).
func list(ctx context.Context, op string, coll *mongodriver.Collection, userID string, opt store.ListOptions, docs any) (int64, error) {
	if opt.Page < 1 {
		opt.Page = 1
	}
	if opt.PerPage < 1 {
		opt.PerPage = defaultPerPage
	}
	filter := bson.D{{Key: "user_id", Value: userID}}
	if opt.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: opt.Status})
	}
	total, err := coll.CountDocuments(ctx, filter)
	if err != nil {
		return 0, translate(op, err)
	}
	skip := int64(opt.Page-1) * int64(opt.PerPage)
	if skip >= total {
		return total, nil
	}
	cur, err := coll.Find(ctx, filter,
		options.Find().SetSort(newestFirst).SetSkip(skip).SetLimit(int64(opt.PerPage)))
	if err != nil {
		return 0, translate(op, err)
	}
	if err := cur.All(ctx, docs); err != nil {
		return 0, translate(op, err)
	}
	return total, nil
}

// owned is the filter for the user's record with this id.
func owned(oid bson.ObjectID, userID string) bson.D {
	return bson.D{{Key: "_id", Value: oid}, {Key: "user_id", Value: userID}}
}

// findOwned decodes the user's record with this id in coll; another user's
// record is store.ErrNotFound.
func findOwned[D any](ctx context.Context, op string, coll *mongodriver.Collection, userID, id string) (*D, error) {
	oid, err := objectID(id)
	if err != nil {
		return nil, err
	}
	var d D
	if err := coll.FindOne(ctx, owned(oid, userID)).Decode(&d); err != nil {
		return nil, translate(op, err)
	}
	return &d, nil
}

// deleteOwned deletes the user's record with this id in coll; another user's
// record is store.ErrNotFound.
func deleteOwned(ctx context.Context, op string, coll *mongodriver.Collection, userID, id string) error {
	oid, err := objectID(id)
	if err != nil {
		return err
	}
	res, err := coll.DeleteOne(ctx, owned(oid, userID))
	if err != nil {
		return translate(op, err)
	}
	if res.DeletedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// convert turns decoded documents into store records (never a nil slice).
func convert[D, T any](docs []D, to func(*D) T) []T {
	out := make([]T, 0, len(docs))
	for i := range docs {
		out = append(out, to(&docs[i]))
	}
	return out
}

// setAllBut returns a $set document of every field of doc but those named.
// Going through the document's own encoding keeps an update from forgetting
// a field that is added to the struct later.
func setAllBut(doc any, skip ...string) (bson.D, error) {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var fields bson.D
	if err := bson.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	set := fields[:0]
next:
	for _, f := range fields {
		for _, k := range skip {
			if f.Key == k {
				continue next
			}
		}
		set = append(set, f)
	}
	return bson.D{{Key: "$set", Value: set}}, nil
}

// Images.

type imageDoc struct {
	ID               bson.ObjectID `bson:"_id"`
	UserID           string        `bson:"user_id"`
	OriginalFilename string        `bson:"original_filename"`
	Description      string        `bson:"description"`
	OriginalPath     string        `bson:"original_path"`
	EnhancedPath     string        `bson:"enhanced_path"`
	OriginalWidth    int           `bson:"original_width"`
	OriginalHeight   int           `bson:"original_height"`
	EnhancedWidth    int           `bson:"enhanced_width"`
	EnhancedHeight   int           `bson:"enhanced_height"`
	OutputWidth      *int          `bson:"output_width"`
	OutputHeight     *int          `bson:"output_height"`
	ModelType        string        `bson:"model_type"`
	Scale            int           `bson:"scale"`
	FaceEnhance      bool          `bson:"face_enhance"`
	Status           string        `bson:"status"`
	ErrorMessage     *string       `bson:"error_message"`
	ProcessingTimeMS int64         `bson:"processing_time_ms"`
	GPUUsed          bool          `bson:"gpu_used"`
	CreatedAt        time.Time     `bson:"created_at"`
	CompletedAt      *time.Time    `bson:"completed_at"`
}

func imageDocOf(im *store.Image, id bson.ObjectID) imageDoc {
	return imageDoc{
		ID:               id,
		UserID:           im.UserID,
		OriginalFilename: im.OriginalFilename,
		Description:      im.Description,
		OriginalPath:     im.OriginalPath,
		EnhancedPath:     im.EnhancedPath,
		OriginalWidth:    im.OriginalWidth,
		OriginalHeight:   im.OriginalHeight,
		EnhancedWidth:    im.EnhancedWidth,
		EnhancedHeight:   im.EnhancedHeight,
		OutputWidth:      im.OutputWidth,
		OutputHeight:     im.OutputHeight,
		ModelType:        im.ModelType,
		Scale:            im.Scale,
		FaceEnhance:      im.FaceEnhance,
		Status:           im.Status,
		ErrorMessage:     im.ErrorMessage,
		ProcessingTimeMS: im.ProcessingTimeMS,
		GPUUsed:          im.GPUUsed,
		CreatedAt:        im.CreatedAt,
		CompletedAt:      im.CompletedAt,
	}
}

func (d *imageDoc) image() store.Image {
	return store.Image{
		ID:               d.ID.Hex(),
		UserID:           d.UserID,
		OriginalFilename: d.OriginalFilename,
		Description:      d.Description,
		OriginalPath:     d.OriginalPath,
		EnhancedPath:     d.EnhancedPath,
		OriginalWidth:    d.OriginalWidth,
		OriginalHeight:   d.OriginalHeight,
		EnhancedWidth:    d.EnhancedWidth,
		EnhancedHeight:   d.EnhancedHeight,
		OutputWidth:      d.OutputWidth,
		OutputHeight:     d.OutputHeight,
		ModelType:        d.ModelType,
		Scale:            d.Scale,
		FaceEnhance:      d.FaceEnhance,
		Status:           d.Status,
		ErrorMessage:     d.ErrorMessage,
		ProcessingTimeMS: d.ProcessingTimeMS,
		GPUUsed:          d.GPUUsed,
		CreatedAt:        d.CreatedAt,
		CompletedAt:      d.CompletedAt,
	}
}

// CreateImage inserts im and sets im.ID. A zero CreatedAt is set to now.
func (s *DB) CreateImage(ctx context.Context, im *store.Image) error {
	if im.CreatedAt.IsZero() {
		im.CreatedAt = now()
	}
	d := imageDocOf(im, bson.NewObjectID())
	if _, err := s.images.InsertOne(ctx, d); err != nil {
		return translate("create image", err)
	}
	im.ID = d.ID.Hex()
	return nil
}

// ImageByID returns the user's image with this id; another user's image is
// store.ErrNotFound.
func (s *DB) ImageByID(ctx context.Context, userID, id string) (*store.Image, error) {
	d, err := findOwned[imageDoc](ctx, "image by id", s.images, userID, id)
	if err != nil {
		return nil, err
	}
	im := d.image()
	return &im, nil
}

// ListImages returns one page of the user's images, newest first (never a
// nil slice), and how many there are in all. A zero Page or PerPage takes the
// manual's default (1 and 10).
func (s *DB) ListImages(ctx context.Context, userID string, opt store.ListOptions) ([]store.Image, int64, error) {
	var docs []imageDoc
	total, err := list(ctx, "list images", s.images, userID, opt, &docs)
	if err != nil {
		return nil, 0, err
	}
	return convert(docs, (*imageDoc).image), total, nil
}

// DeleteImage deletes the user's image with this id; another user's image is
// store.ErrNotFound.
func (s *DB) DeleteImage(ctx context.Context, userID, id string) error {
	return deleteOwned(ctx, "delete image", s.images, userID, id)
}

// Videos.

type videoDoc struct {
	ID               bson.ObjectID `bson:"_id"`
	UserID           string        `bson:"user_id"`
	OriginalFilename string        `bson:"original_filename"`
	Description      string        `bson:"description"`
	OriginalPath     string        `bson:"original_path"`
	EnhancedPath     string        `bson:"enhanced_path"`
	ModelType        string        `bson:"model_type"`
	Scale            int           `bson:"scale"`
	FaceEnhance      bool          `bson:"face_enhance"`
	DurationSeconds  float64       `bson:"duration_seconds"`
	FPS              float64       `bson:"fps"`
	FrameCount       int           `bson:"frame_count"`
	OriginalWidth    int           `bson:"original_width"`
	OriginalHeight   int           `bson:"original_height"`
	EnhancedWidth    int           `bson:"enhanced_width"`
	EnhancedHeight   int           `bson:"enhanced_height"`
	Status           string        `bson:"status"`
	ErrorMessage     *string       `bson:"error_message"`
	ProcessingTimeMS int64         `bson:"processing_time_ms"`
	GPUUsed          bool          `bson:"gpu_used"`
	FramesProcessed  int           `bson:"frames_processed"`
	CreatedAt        time.Time     `bson:"created_at"`
	CompletedAt      *time.Time    `bson:"completed_at"`
}

func videoDocOf(v *store.Video, id bson.ObjectID) videoDoc {
	return videoDoc{
		ID:               id,
		UserID:           v.UserID,
		OriginalFilename: v.OriginalFilename,
		Description:      v.Description,
		OriginalPath:     v.OriginalPath,
		EnhancedPath:     v.EnhancedPath,
		ModelType:        v.ModelType,
		Scale:            v.Scale,
		FaceEnhance:      v.FaceEnhance,
		DurationSeconds:  v.DurationSeconds,
		FPS:              v.FPS,
		FrameCount:       v.FrameCount,
		OriginalWidth:    v.OriginalWidth,
		OriginalHeight:   v.OriginalHeight,
		EnhancedWidth:    v.EnhancedWidth,
		EnhancedHeight:   v.EnhancedHeight,
		Status:           v.Status,
		ErrorMessage:     v.ErrorMessage,
		ProcessingTimeMS: v.ProcessingTimeMS,
		GPUUsed:          v.GPUUsed,
		FramesProcessed:  v.FramesProcessed,
		CreatedAt:        v.CreatedAt,
		CompletedAt:      v.CompletedAt,
	}
}

func (d *videoDoc) video() store.Video {
	return store.Video{
		ID:               d.ID.Hex(),
		UserID:           d.UserID,
		OriginalFilename: d.OriginalFilename,
		Description:      d.Description,
		OriginalPath:     d.OriginalPath,
		EnhancedPath:     d.EnhancedPath,
		ModelType:        d.ModelType,
		Scale:            d.Scale,
		FaceEnhance:      d.FaceEnhance,
		DurationSeconds:  d.DurationSeconds,
		FPS:              d.FPS,
		FrameCount:       d.FrameCount,
		OriginalWidth:    d.OriginalWidth,
		OriginalHeight:   d.OriginalHeight,
		EnhancedWidth:    d.EnhancedWidth,
		EnhancedHeight:   d.EnhancedHeight,
		Status:           d.Status,
		ErrorMessage:     d.ErrorMessage,
		ProcessingTimeMS: d.ProcessingTimeMS,
		GPUUsed:          d.GPUUsed,
		FramesProcessed:  d.FramesProcessed,
		CreatedAt:        d.CreatedAt,
		CompletedAt:      d.CompletedAt,
	}
}

// CreateVideo inserts v and sets v.ID. A zero CreatedAt is set to now.
func (s *DB) CreateVideo(ctx context.Context, v *store.Video) error {
	if v.CreatedAt.IsZero() {
		v.CreatedAt = now()
	}
	d := videoDocOf(v, bson.NewObjectID())
	if _, err := s.videos.InsertOne(ctx, d); err != nil {
		return translate("create video", err)
	}
	v.ID = d.ID.Hex()
	return nil
}

// VideoByID returns the user's video with this id; another user's video is
// store.ErrNotFound.
func (s *DB) VideoByID(ctx context.Context, userID, id string) (*store.Video, error) {
	d, err := findOwned[videoDoc](ctx, "video by id", s.videos, userID, id)
	if err != nil {
		return nil, err
	}
	v := d.video()
	return &v, nil
}

// ListVideos returns one page of the user's videos, newest first (never a
// nil slice), and how many there are in all. A zero Page or PerPage takes the
// manual's default (1 and 10).
func (s *DB) ListVideos(ctx context.Context, userID string, opt store.ListOptions) ([]store.Video, int64, error) {
	var docs []videoDoc
	total, err := list(ctx, "list videos", s.videos, userID, opt, &docs)
	if err != nil {
		return nil, 0, err
	}
	return convert(docs, (*videoDoc).video), total, nil
}

// UpdateVideo writes every field of v but ID, UserID and CreatedAt to the
// video with id v.ID, whoever owns it (the video worker calls it).
func (s *DB) UpdateVideo(ctx context.Context, v *store.Video) error {
	oid, err := objectID(v.ID)
	if err != nil {
		return err
	}
	update, err := setAllBut(videoDocOf(v, oid), "_id", "user_id", "created_at")
	if err != nil {
		return internal("update video", err)
	}
	res, err := s.videos.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}}, update)
	if err != nil {
		return translate("update video", err)
	}
	// Matched, not modified: writing the values a video already has is
	// still a success.
	if res.MatchedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// UpdateVideoProgress sets the video's FramesProcessed, whoever owns it.
func (s *DB) UpdateVideoProgress(ctx context.Context, id string, framesProcessed int) error {
	oid, err := objectID(id)
	if err != nil {
		return err
	}
	res, err := s.videos.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "frames_processed", Value: framesProcessed}}}})
	if err != nil {
		return translate("update video progress", err)
	}
	if res.MatchedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteVideo deletes the user's video with this id; another user's video is
// store.ErrNotFound.
func (s *DB) DeleteVideo(ctx context.Context, userID, id string) error {
	return deleteOwned(ctx, "delete video", s.videos, userID, id)
}

// VideosByStatus returns every user's videos in any of these statuses,
// oldest first. No statuses, no videos.
func (s *DB) VideosByStatus(ctx context.Context, statuses ...string) ([]store.Video, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	cur, err := s.videos.Find(ctx,
		bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: statuses}}}},
		options.Find().SetSort(oldestFirst))
	if err != nil {
		return nil, translate("videos by status", err)
	}
	var docs []videoDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, translate("videos by status", err)
	}
	return convert(docs, (*videoDoc).video), nil
}
