package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"imageenhancer/store"
	"imageenhancer/store/storetest"
)

// openTimeout bounds connecting to the test server: a server that does not
// answer by then is a failure, not a reason to wait out the driver's 30 s.
const openTimeout = 10 * time.Second

// TestMain fails the package at once when MONGODB_URI is set and the server
// does not answer, instead of every test waiting out openTimeout.
func TestMain(m *testing.M) {
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		err := ping(ctx, uri)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: MONGODB_URI is set but the server does not answer: %v\n", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func ping(ctx context.Context, uri string) error {
	client, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return err
	}
	defer client.Disconnect(context.Background())
	return client.Ping(ctx, readpref.Primary())
}

// open connects to the server at MONGODB_URI and returns a store on a
// database of its own, dropped when the test ends.
func open(t *testing.T) store.Store {
	t.Helper()
	uri := os.Getenv("MONGODB_URI")
	if uri == "" {
		t.Skip("MONGODB_URI is not set: skipping the MongoDB tests (set it to run them against a server)")
	}
	var b [8]byte
	rand.Read(b[:])
	name := "storetest_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(t.Context(), openTimeout)
	defer cancel()
	db, err := Open(ctx, uri, name)
	if err != nil {
		t.Fatalf("MONGODB_URI is set but the server cannot be used: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		defer cancel()
		if err := db.db.Drop(ctx); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		if err := db.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	if os.Getenv("MONGODB_URI") == "" {
		t.Skip("MONGODB_URI is not set: skipping the MongoDB tests (set it to run them against a server)")
	}
	storetest.Run(t, open)
}

// TestIndexes: opening a database twice creates the indexes once, and the
// TTL and unique indexes are there.
func TestIndexes(t *testing.T) {
	s := open(t).(*DB)
	ctx := t.Context()
	if err := s.createIndexes(ctx); err != nil {
		t.Fatalf("creating the indexes again: %v", err)
	}
	specs, err := s.tokens.Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ttl, unique bool
	for _, sp := range specs {
		if sp.Name == "expires_at_1" && sp.ExpireAfterSeconds != nil && *sp.ExpireAfterSeconds == 0 {
			ttl = true
		}
		if sp.Name == "token_1" && sp.Unique != nil && *sp.Unique {
			unique = true
		}
	}
	if !ttl || !unique {
		t.Fatalf("refresh_tokens indexes %+v: want a TTL index on expires_at and a unique one on token", specs)
	}
}

func TestObjectID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"65a1b2c3d4e5f60718293a4b", true},
		{"", false},
		{"not-an-id", false},
		{"65a1b2c3d4e5f60718293a4", false},
		{"65a1b2c3d4e5f60718293a4bz", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			oid, err := objectID(tt.id)
			if tt.ok && (err != nil || oid.Hex() != tt.id) {
				t.Fatalf("objectID(%q) = %v, %v", tt.id, oid, err)
			}
			if !tt.ok && err != store.ErrNotFound {
				t.Fatalf("objectID(%q) error %v, want store.ErrNotFound", tt.id, err)
			}
		})
	}
}

// TestSetAllBut: an update of a video writes every field of the document
// but the skipped ones.
func TestSetAllBut(t *testing.T) {
	msg := "boom"
	d := videoDocOf(&store.Video{UserID: "u", Status: store.StatusError, ErrorMessage: &msg}, [12]byte{1})
	update, err := setAllBut(d, "_id", "user_id", "created_at")
	if err != nil {
		t.Fatal(err)
	}
	set, ok := update[0].Value.(bson.D)
	if update[0].Key != "$set" || !ok {
		t.Fatalf("update %v, want one $set", update)
	}
	keys := map[string]any{}
	for _, e := range set {
		keys[e.Key] = e.Value
	}
	for _, k := range []string{"_id", "user_id", "created_at"} {
		if _, ok := keys[k]; ok {
			t.Errorf("$set writes %s", k)
		}
	}
	// 23 fields in the document, 3 skipped.
	if len(set) != 20 {
		t.Errorf("$set has %d fields, want 20: %v", len(set), set)
	}
	if keys["error_message"] != "boom" || keys["status"] != "error" {
		t.Errorf("$set %v: wrong values", set)
	}
	if v, ok := keys["completed_at"]; !ok || v != nil {
		t.Errorf("$set completed_at = %v, want null", v)
	}
}
