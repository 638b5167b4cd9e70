// Package store keeps users, refresh tokens, images and videos. One interface,
// Store, has two real backends with the same semantics: MongoDB (production,
// docker-compose) and SQLite (embedded default). Both are checked by one
// conformance suite.
//
// The store holds records only; image and video files live on disk under
// DATA_DIR and are managed by their callers. Driver errors never leave this
// package: they become ErrNotFound, ErrConflict or a wrapped internal error.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns, so callers can map them to HTTP statuses.
var (
	// ErrNotFound: no such record, or it belongs to another user.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique field (username, email, token) already exists.
	ErrConflict = errors.New("store: already exists")
)

// Status values of images and videos, stored as strings.
const (
	StatusPending    = "pending"
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
	StatusFailed     = "failed" // images
	StatusError      = "error"  // videos
)

// User is a row of the users collection.
type User struct {
	ID             string
	Username       string
	Email          string
	HashedPassword string
	IsActive       bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RefreshToken is a row of the refresh_tokens collection. TokenHash is the
// SHA-256 (hex) of the token the client holds; the token itself is never stored.
// A rotated or logged-out token is kept with RevokedAt set until it expires,
// so that its reuse can be detected.
type RefreshToken struct {
	ID        string
	UserID    string
	TokenHash string
	ExpiresAt time.Time
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Image is a row of the images collection.
type Image struct {
	ID               string
	UserID           string
	OriginalFilename string
	Description      string
	OriginalPath     string
	EnhancedPath     string
	OriginalWidth    int
	OriginalHeight   int
	EnhancedWidth    int
	EnhancedHeight   int
	OutputWidth      *int // as requested, nil when not asked for
	OutputHeight     *int
	ModelType        string
	Scale            int
	FaceEnhance      bool
	Status           string
	ErrorMessage     *string
	ProcessingTimeMS int64
	GPUUsed          bool
	CreatedAt        time.Time
	CompletedAt      *time.Time
}

// Video is a row of the videos collection.
type Video struct {
	ID               string
	UserID           string
	OriginalFilename string
	Description      string
	OriginalPath     string
	EnhancedPath     string
	ModelType        string
	Scale            int
	FaceEnhance      bool
	DurationSeconds  float64
	FPS              float64
	FrameCount       int
	OriginalWidth    int
	OriginalHeight   int
	EnhancedWidth    int
	EnhancedHeight   int
	Status           string
	ErrorMessage     *string
	ProcessingTimeMS int64
	GPUUsed          bool
	FramesProcessed  int
	CreatedAt        time.Time
	CompletedAt      *time.Time
}

// ListOptions pages a user's images or videos, newest first.
type ListOptions struct {
	Page    int    // 1-based
	PerPage int    // > 0
	Status  string // "" for any
}

// Store is what the service needs from a database. IDs are 24 hexadecimal
// characters on both backends (a MongoDB ObjectID). Methods that take a
// userID only see that user's records: another user's id is ErrNotFound.
type Store interface {
	CreateUser(ctx context.Context, u *User) error // sets u.ID; ErrConflict on a taken username or email
	UserByID(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)

	CreateRefreshToken(ctx context.Context, t *RefreshToken) error // sets t.ID; ErrConflict on a taken hash
	RefreshTokenByHash(ctx context.Context, hash string) (*RefreshToken, error)
	// RevokeRefreshToken sets RevokedAt if it is not set yet and reports
	// whether this call did so; two concurrent calls cannot both win.
	RevokeRefreshToken(ctx context.Context, hash string, at time.Time) (bool, error)
	RevokeUserRefreshTokens(ctx context.Context, userID string, at time.Time) error
	// PurgeExpiredRefreshTokens deletes tokens whose ExpiresAt is before now
	// (MongoDB's TTL index also does this on its own).
	PurgeExpiredRefreshTokens(ctx context.Context, now time.Time) error

	CreateImage(ctx context.Context, im *Image) error // sets im.ID
	ImageByID(ctx context.Context, userID, id string) (*Image, error)
	ListImages(ctx context.Context, userID string, opt ListOptions) (images []Image, total int64, err error)
	DeleteImage(ctx context.Context, userID, id string) error

	CreateVideo(ctx context.Context, v *Video) error // sets v.ID
	VideoByID(ctx context.Context, userID, id string) (*Video, error)
	ListVideos(ctx context.Context, userID string, opt ListOptions) (videos []Video, total int64, err error)
	UpdateVideo(ctx context.Context, v *Video) error // replaces every field but ID, UserID, CreatedAt
	UpdateVideoProgress(ctx context.Context, id string, framesProcessed int) error
	DeleteVideo(ctx context.Context, userID, id string) error
	// VideosByStatus lists every user's videos in these statuses, oldest
	// first: the jobs to resume after a restart.
	VideosByStatus(ctx context.Context, statuses ...string) ([]Video, error)

	Ping(ctx context.Context) error
	Close(ctx context.Context) error
}
