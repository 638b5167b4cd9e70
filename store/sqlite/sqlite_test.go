package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"imageenhancer/store"
	"imageenhancer/store/sqlite"
	"imageenhancer/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

// TestReopen: the database is in WAL mode, and opening it again keeps its
// records and does not run the migrations again.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{Username: "alice", Email: "alice@example.com", HashedPassword: "h", IsActive: true}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// The write went to the write-ahead log: the database is in WAL mode.
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no write-ahead log: %v", err)
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	got, err := db.UserByEmail(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID {
		t.Fatalf("after reopening, user id %s, want %s", got.ID, u.ID)
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro", filepath.Join(t.TempDir(), "missing", "store.db")} {
		t.Run(path, func(t *testing.T) {
			db, err := sqlite.Open(t.Context(), path)
			if err == nil {
				db.Close(t.Context())
				t.Fatalf("Open(%q) succeeded, want an error", path)
			}
		})
	}
}

// TestForeignKeys: records of a user that does not exist are refused.
func TestForeignKeys(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	const nobody = "000000000000000000000000"
	tests := []struct {
		name string
		err  error
	}{
		{"RefreshToken", db.CreateRefreshToken(ctx, &store.RefreshToken{UserID: nobody, TokenHash: "h"})},
		{"Image", db.CreateImage(ctx, &store.Image{UserID: nobody})},
		{"Video", db.CreateVideo(ctx, &store.Video{UserID: nobody})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, store.ErrNotFound) {
				t.Fatalf("error %v, want store.ErrNotFound", tt.err)
			}
		})
	}
}
