package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"imageenhancer/auth"
	"imageenhancer/store"
	"imageenhancer/store/sqlite"
)

// newService is a Service over a real SQLite store with a clock the test
// moves.
func newService(t *testing.T) (*auth.Service, store.Store, *time.Time) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	now := time.Now()
	s, err := auth.New(auth.Config{
		Secret: []byte("0123456789abcdef0123456789abcdef"), BcryptCost: 4,
		AccessTTL: 30 * time.Minute, RefreshTTL: 7 * 24 * time.Hour,
		Now: func() time.Time { return now },
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	return s, st, &now
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	s, st, now := newService(t)
	u, err := s.Register(ctx, "ana", " Ana@Ejemplo.com ", "mipassword123")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ana@ejemplo.com" || !u.IsActive || u.HashedPassword == "mipassword123" {
		t.Errorf("user %+v", u)
	}
	if _, err := s.Register(ctx, "ana2", "ana@ejemplo.com", "mipassword123"); !errors.Is(err, auth.ErrConflict) {
		t.Errorf("duplicate email: %v", err)
	}
	if _, err := s.Register(ctx, "ana", "otra@ejemplo.com", "mipassword123"); !errors.Is(err, auth.ErrConflict) {
		t.Errorf("duplicate username: %v", err)
	}
	if _, _, err := s.Login(ctx, "ana@ejemplo.com", "mala-clave"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	_, tok, err := s.Login(ctx, "ANA@ejemplo.com", "mipassword123")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(ctx, tok.AccessToken); err != nil || got.ID != u.ID {
		t.Fatalf("authenticate: %v %v", got, err)
	}
	// The refresh token is stored only as its hash.
	rt, err := st.RefreshTokenByHash(ctx, auth.HashRefreshToken(tok.RefreshToken))
	if err != nil || rt.UserID != u.ID || rt.TokenHash == tok.RefreshToken {
		t.Fatalf("stored refresh token %+v %v", rt, err)
	}

	// Access tokens expire.
	*now = now.Add(31 * time.Minute)
	if _, err := s.Authenticate(ctx, tok.AccessToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("expired access token: %v", err)
	}
	// Refresh tokens too, after 7 days, and are then purged.
	*now = now.Add(7 * 24 * time.Hour)
	if _, err := s.Refresh(ctx, tok.RefreshToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("expired refresh token: %v", err)
	}
	if err := s.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RefreshTokenByHash(ctx, auth.HashRefreshToken(tok.RefreshToken)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired token not purged: %v", err)
	}
}

// TestRefreshRace: two clients presenting the same refresh token at once
// cannot both get a new pair; the loser's reuse revokes the winner's too.
func TestRefreshRace(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newService(t)
	if _, err := s.Register(ctx, "ana", "ana@ejemplo.com", "mipassword123"); err != nil {
		t.Fatal(err)
	}
	_, tok, err := s.Login(ctx, "ana@ejemplo.com", "mipassword123")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	results := make([]*auth.Tokens, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = s.Refresh(ctx, tok.RefreshToken) })
	}
	wg.Wait()
	won := 0
	var winner *auth.Tokens
	for i := range n {
		switch {
		case errs[i] == nil:
			won++
			winner = results[i]
		case !errors.Is(errs[i], auth.ErrInvalidToken):
			t.Errorf("refresh %d: %v", i, errs[i])
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent refreshes of one token succeeded, want 1", won)
	}
	if _, err := s.Refresh(ctx, winner.RefreshToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("the winner's token survived a detected reuse: %v", err)
	}
}

func TestLogoutOnlyOwnToken(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newService(t)
	ana, _ := s.Register(ctx, "ana", "ana@ejemplo.com", "mipassword123")
	bob, _ := s.Register(ctx, "bob", "bob@ejemplo.com", "mipassword123")
	_, anaTok, _ := s.Login(ctx, "ana@ejemplo.com", "mipassword123")
	if err := s.Logout(ctx, bob.ID, anaTok.RefreshToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("bob logged out ana's token: %v", err)
	}
	if err := s.Logout(ctx, ana.ID, anaTok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(ctx, anaTok.RefreshToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("refresh after logout: %v", err)
	}
}

func TestInactiveRefused(t *testing.T) {
	ctx := context.Background()
	s, st, _ := newService(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("mipassword123"), 4)
	u := &store.User{Username: "baja", Email: "baja@ejemplo.com", HashedPassword: string(hash), CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Login(ctx, "baja@ejemplo.com", "mipassword123"); !errors.Is(err, auth.ErrInactive) {
		t.Errorf("inactive login: %v", err)
	}
	access, err := s.AccessToken(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, access); !errors.Is(err, auth.ErrInactive) {
		t.Errorf("inactive user's token: %v", err)
	}
}
