// Package auth registers and logs in users, issues and checks their tokens.
//
// Access tokens are HS256 JWTs (golang-jwt v5, algorithm pinned) carrying
// sub, iat, exp and type "access". Refresh tokens are not JWTs: they are 256
// random bits, base64url-encoded, stored only as their SHA-256 and rotated on
// every use; presenting one that was already rotated or logged out revokes
// every refresh token of its user (a stolen token has been used).
//
// auth knows nothing of HTTP: callers map its error kinds to statuses.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"imageenhancer/store"
)

// Error kinds. Errors returned by Service wrap one of these, or a store
// error kind, or are internal faults.
var (
	// ErrInvalidInput: a field of a request is missing or malformed; the
	// message names it.
	ErrInvalidInput = errors.New("invalid input")
	// ErrInvalidCredentials: unknown email or wrong password.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrInvalidToken: an access or refresh token that is malformed,
	// tampered with, expired, revoked or of the wrong kind.
	ErrInvalidToken = errors.New("invalid token")
	// ErrInactive: the user exists but is deactivated.
	ErrInactive = errors.New("inactive user")
	// ErrConflict: the username or email is taken.
	ErrConflict = errors.New("already registered")
)

// Config configures a Service.
type Config struct {
	// Secret signs access tokens (HS256). At least 32 bytes is advisable.
	Secret     []byte
	AccessTTL  time.Duration // JWT_ACCESS_TOKEN_EXPIRE_MINUTES, 30 min by default
	RefreshTTL time.Duration // JWT_REFRESH_TOKEN_EXPIRE_DAYS, 7 days by default
	BcryptCost int           // 12 by default
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Service implements registration, login, token refresh and logout over a
// store.Store.
type Service struct {
	cfg    Config
	st     store.Store
	parser *jwt.Parser

	dummyOnce sync.Once
	dummy     []byte
}

// Tokens is what login and refresh hand to the client.
type Tokens struct {
	AccessToken  string
	RefreshToken string
}

// accessType is the "type" claim of access tokens, so that no other token
// signed with the same key is accepted as one.
const accessType = "access"

// Password limits: bcrypt reads at most 72 bytes.
const (
	minPasswordLen = 6
	maxPasswordLen = 72
	// maxEmailLen is the longest address SMTP carries (RFC 5321's 256-byte
	// path less its angle brackets).
	maxEmailLen = 254
)

// New returns a Service. Zero durations and cost take their defaults.
func New(cfg Config, st store.Store) (*Service, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("auth: empty secret")
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 30 * time.Minute
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 7 * 24 * time.Hour
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = 12
	}
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("auth: bcrypt cost %d outside %d–%d", cfg.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, st: st}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return s.cfg.Now() }),
	)
	return s, nil
}

// Register creates an active user with a bcrypt hash of password.
func (s *Service) Register(ctx context.Context, username, email, password string) (*store.User, error) {
	username = strings.TrimSpace(username)
	email = normalizeEmail(email)
	switch {
	case username == "":
		return nil, fmt.Errorf("%w: Campo requerido: username", ErrInvalidInput)
	case utf8.RuneCountInString(username) < 3 || utf8.RuneCountInString(username) > 50:
		return nil, fmt.Errorf("%w: username debe tener entre 3 y 50 caracteres", ErrInvalidInput)
	case strings.ContainsFunc(username, unicode.IsControl):
		// A NUL or a line break in a name shown back in lists and logs.
		return nil, fmt.Errorf("%w: username no puede contener caracteres de control", ErrInvalidInput)
	case email == "":
		return nil, fmt.Errorf("%w: Campo requerido: email", ErrInvalidInput)
	case len(email) > maxEmailLen:
		return nil, fmt.Errorf("%w: email no puede superar %d caracteres", ErrInvalidInput, maxEmailLen)
	case !validEmail(email):
		return nil, fmt.Errorf("%w: email inválido", ErrInvalidInput)
	case password == "":
		return nil, fmt.Errorf("%w: Campo requerido: password", ErrInvalidInput)
	case utf8.RuneCountInString(password) < minPasswordLen:
		return nil, fmt.Errorf("%w: password debe tener al menos %d caracteres", ErrInvalidInput, minPasswordLen)
	case len(password) > maxPasswordLen:
		return nil, fmt.Errorf("%w: password no puede superar %d bytes", ErrInvalidInput, maxPasswordLen)
	}
	if _, err := s.st.UserByEmail(ctx, email); err == nil {
		return nil, fmt.Errorf("%w: El email ya está registrado", ErrConflict)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("auth: hashing password: %w", err)
	}
	now := s.cfg.Now().UTC()
	u := &store.User{
		Username:       username,
		Email:          email,
		HashedPassword: string(hash),
		IsActive:       true,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	if err := s.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("%w: El nombre de usuario o el email ya están registrados", ErrConflict)
		}
		return nil, err
	}
	return u, nil
}

// Login checks email and password and issues a token pair.
func (s *Service) Login(ctx context.Context, email, password string) (*store.User, *Tokens, error) {
	email = normalizeEmail(email)
	if email == "" {
		return nil, nil, fmt.Errorf("%w: Campo requerido: email", ErrInvalidInput)
	}
	if password == "" {
		return nil, nil, fmt.Errorf("%w: Campo requerido: password", ErrInvalidInput)
	}
	u, err := s.st.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		// Spend the time a real comparison would, so that response times
		// do not tell which emails are registered.
		bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(password))
		return nil, nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.HashedPassword), []byte(password)) != nil {
		return nil, nil, ErrInvalidCredentials
	}
	if !u.IsActive {
		return nil, nil, ErrInactive
	}
	t, err := s.issue(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	return u, t, nil
}

// Refresh rotates a refresh token: the presented one is revoked and a new
// pair issued. A token that was already revoked revokes all of its user's
// refresh tokens and is refused.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	hash, rt, err := s.refreshToken(ctx, refreshToken)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	if !now.Before(rt.ExpiresAt) {
		return nil, ErrInvalidToken
	}
	won := false
	if rt.RevokedAt == nil {
		won, err = s.st.RevokeRefreshToken(ctx, hash, now)
		if err != nil {
			return nil, err
		}
	}
	if !won {
		// Reuse of a rotated token: whoever holds the newer one may be
		// a thief, so end every session of this user.
		if err := s.st.RevokeUserRefreshTokens(ctx, rt.UserID, now); err != nil {
			return nil, err
		}
		return nil, ErrInvalidToken
	}
	u, err := s.activeUser(ctx, rt.UserID)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, u.ID)
}

// Logout revokes refreshToken if it belongs to userID. A token of another
// user, or an unknown one, is ErrInvalidToken and left alone.
func (s *Service) Logout(ctx context.Context, userID, refreshToken string) error {
	hash, rt, err := s.refreshToken(ctx, refreshToken)
	if err != nil {
		return err
	}
	if rt.UserID != userID {
		return ErrInvalidToken
	}
	_, err = s.st.RevokeRefreshToken(ctx, hash, s.cfg.Now().UTC())
	return err
}

// refreshToken looks up a presented refresh token by its hash: an empty
// one is ErrInvalidInput, an unknown one ErrInvalidToken.
func (s *Service) refreshToken(ctx context.Context, token string) (string, *store.RefreshToken, error) {
	if token == "" {
		return "", nil, fmt.Errorf("%w: Campo requerido: refresh_token", ErrInvalidInput)
	}
	hash := HashRefreshToken(token)
	rt, err := s.st.RefreshTokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, ErrInvalidToken
	}
	if err != nil {
		return "", nil, err
	}
	return hash, rt, nil
}

// Authenticate checks an access token and returns its active user.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (*store.User, error) {
	var claims accessClaims
	tok, err := s.parser.ParseWithClaims(accessToken, &claims, func(*jwt.Token) (any, error) {
		return s.cfg.Secret, nil
	})
	if err != nil || !tok.Valid || claims.Type != accessType || claims.Subject == "" || claims.IssuedAt == nil {
		return nil, ErrInvalidToken
	}
	return s.activeUser(ctx, claims.Subject)
}

// activeUser is the user a token names: a user that no longer exists is
// ErrInvalidToken, an inactive one ErrInactive.
func (s *Service) activeUser(ctx context.Context, id string) (*store.User, error) {
	u, err := s.st.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if !u.IsActive {
		return nil, ErrInactive
	}
	return u, nil
}

// PurgeExpired deletes refresh tokens past their expiry.
func (s *Service) PurgeExpired(ctx context.Context) error {
	return s.st.PurgeExpiredRefreshTokens(ctx, s.cfg.Now().UTC())
}

// accessClaims are the claims of an access token.
type accessClaims struct {
	Type string `json:"type"`
	jwt.RegisteredClaims
}

// AccessToken signs an access token for userID, valid for the configured TTL.
func (s *Service) AccessToken(userID string) (string, error) {
	now := s.cfg.Now()
	c := accessClaims{
		Type: accessType,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.AccessTTL)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.cfg.Secret)
}

func (s *Service) issue(ctx context.Context, userID string) (*Tokens, error) {
	access, err := s.AccessToken(userID)
	if err != nil {
		return nil, fmt.Errorf("auth: signing access token: %w", err)
	}
	var raw [32]byte // 256 bits
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	refresh := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.cfg.Now().UTC()
	rt := &store.RefreshToken{
		UserID:    userID,
		TokenHash: HashRefreshToken(refresh),
		ExpiresAt: now.Add(s.cfg.RefreshTTL),
		CreatedAt: now,
	}
	if err := s.st.CreateRefreshToken(ctx, rt); err != nil {
		return nil, err
	}
	return &Tokens{AccessToken: access, RefreshToken: refresh}, nil
}

// HashRefreshToken is the hex SHA-256 under which a refresh token is stored.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func normalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

func validEmail(email string) bool {
	a, err := mail.ParseAddress(email)
	return err == nil && a.Address == email && strings.Contains(email[strings.IndexByte(email, '@'):], ".")
}

// dummyHash is a bcrypt hash of nothing in particular at the configured
// cost, made on first use.
func (s *Service) dummyHash() []byte {
	s.dummyOnce.Do(func() {
		s.dummy, _ = bcrypt.GenerateFromPassword([]byte("timing equaliser"), s.cfg.BcryptCost)
	})
	return s.dummy
}

// AccessTTL is how long access tokens are valid.
func (s *Service) AccessTTL() time.Duration { return s.cfg.AccessTTL }
