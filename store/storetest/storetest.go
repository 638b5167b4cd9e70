// Package storetest is the conformance suite of store.Store: every backend
// runs the same tests, so that the service behaves the same on SQLite and on
// MongoDB.
//
// The suite checks what callers may rely on and no more: times are compared
// to the millisecond (MongoDB keeps no finer), and records whose user_id
// names no user are not tried (SQLite refuses them, MongoDB does not check).
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"imageenhancer/store"
)

// Run runs the suite. open must return a fresh, empty store for each call and
// close it when the test ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Ping", testPing},
		{"Users", testUsers},
		{"DefaultTimes", testDefaultTimes},
		{"RefreshTokens", testRefreshTokens},
		{"RevokeConcurrently", testRevokeConcurrently},
		{"RevokeUserRefreshTokens", testRevokeUser},
		{"PurgeExpiredRefreshTokens", testPurge},
		{"Images", testImages},
		{"ListImages", testListImages},
		{"Videos", testVideos},
		{"UpdateVideo", testUpdateVideo},
		{"ListVideos", testListVideos},
		{"VideosByStatus", testVideosByStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// t0 is a time with more than millisecond precision in a zone other than
// UTC: a backend must return it as the same instant, in UTC, to the
// millisecond.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+5", 5*3600))

// idPattern is the form of every id: a MongoDB ObjectID in hex.
var idPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

// unknownIDs are ids no record has: well-formed but absent, and malformed.
var unknownIDs = []string{"000000000000000000000000", "ffffffffffffffffffffffff", "not-an-id", "", "1234"}

func ptr[T any](v T) *T { return &v }

// ms is how a backend may hand a time back: the same instant, to the
// millisecond, in UTC. Applied to what was stored, it is what must come back.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func msp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return ptr(ms(*t))
}

// got normalises a time read back: truncated, but left in its zone, so that a
// time not in UTC fails the comparison.
func got(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

func gotp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return ptr(got(*t))
}

func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func checkID(t *testing.T, id string) {
	t.Helper()
	if !idPattern.MatchString(id) {
		t.Fatalf("id %q is not 24 hexadecimal characters", id)
	}
}

func checkEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %s\nwant %s", what, show(got), show(want))
	}
}

// show prints a record with its pointers followed.
func show(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "nil"
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Sprintf("%+v", v)
	}
	s := "{"
	for i := range rv.NumField() {
		f := rv.Field(i)
		val := f.Interface()
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				val = "nil"
			} else {
				val = f.Elem().Interface()
			}
		}
		if tm, ok := val.(time.Time); ok {
			val = tm.Format(time.RFC3339Nano) + " " + tm.Location().String()
		}
		s += fmt.Sprintf(" %s:%v", rv.Type().Field(i).Name, val)
	}
	return s + " }"
}

func newUser(t *testing.T, s store.Store, name string) *store.User {
	t.Helper()
	u := &store.User{
		Username:       name,
		Email:          name + "@example.com",
		HashedPassword: "$2a$12$" + name,
		IsActive:       true,
		CreatedAt:      t0,
		UpdatedAt:      t0.Add(time.Second),
	}
	checkErr(t, "CreateUser", s.CreateUser(t.Context(), u), nil)
	return u
}

func testPing(t *testing.T, s store.Store) {
	checkErr(t, "Ping", s.Ping(t.Context()), nil)
}

func wantUser(u store.User) store.User {
	u.CreatedAt, u.UpdatedAt = ms(u.CreatedAt), ms(u.UpdatedAt)
	return u
}

func gotUser(u *store.User) *store.User {
	if u == nil {
		return nil
	}
	c := *u
	c.CreatedAt, c.UpdatedAt = got(c.CreatedAt), got(c.UpdatedAt)
	return &c
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := newUser(t, s, "alice")
	checkID(t, alice.ID)
	bob := &store.User{Username: "bob", Email: "bob@example.com", HashedPassword: "h", IsActive: false,
		CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(2 * time.Hour)}
	checkErr(t, "CreateUser bob", s.CreateUser(ctx, bob), nil)
	if bob.ID == alice.ID {
		t.Fatalf("two users got the same id %s", bob.ID)
	}

	for _, u := range []*store.User{alice, bob} {
		t.Run("ByID/"+u.Username, func(t *testing.T) {
			g, err := s.UserByID(ctx, u.ID)
			checkErr(t, "UserByID", err, nil)
			checkEqual(t, "UserByID", gotUser(g), ptr(wantUser(*u)))
		})
		t.Run("ByEmail/"+u.Username, func(t *testing.T) {
			g, err := s.UserByEmail(ctx, u.Email)
			checkErr(t, "UserByEmail", err, nil)
			checkEqual(t, "UserByEmail", gotUser(g), ptr(wantUser(*u)))
		})
	}

	conflicts := []struct {
		name            string
		username, email string
		want            error
	}{
		{"TakenUsername", "alice", "other@example.com", store.ErrConflict},
		{"TakenEmail", "carol", "alice@example.com", store.ErrConflict},
		{"TakenBoth", "bob", "bob@example.com", store.ErrConflict},
		{"Free", "carol", "carol@example.com", nil},
	}
	for _, tt := range conflicts {
		t.Run("Create/"+tt.name, func(t *testing.T) {
			u := &store.User{Username: tt.username, Email: tt.email, HashedPassword: "h", CreatedAt: t0, UpdatedAt: t0}
			checkErr(t, "CreateUser", s.CreateUser(ctx, u), tt.want)
			if tt.want != nil {
				// The existing user is untouched.
				g, err := s.UserByEmail(ctx, "alice@example.com")
				checkErr(t, "UserByEmail", err, nil)
				checkEqual(t, "alice after conflict", gotUser(g), ptr(wantUser(*alice)))
			}
		})
	}

	for _, id := range unknownIDs {
		t.Run(fmt.Sprintf("UnknownID/%q", id), func(t *testing.T) {
			_, err := s.UserByID(ctx, id)
			checkErr(t, "UserByID", err, store.ErrNotFound)
		})
	}
	t.Run("UnknownEmail", func(t *testing.T) {
		_, err := s.UserByEmail(ctx, "nobody@example.com")
		checkErr(t, "UserByEmail", err, store.ErrNotFound)
	})
}

// testDefaultTimes: a zero CreatedAt is set to the time of the call, in UTC,
// and the record keeps it.
func testDefaultTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	near := func(t *testing.T, tm time.Time) {
		t.Helper()
		if tm.Before(before) || tm.After(time.Now().Add(time.Second)) || tm.Location() != time.UTC {
			t.Fatalf("default time %v, want about now in UTC", tm)
		}
	}
	u := &store.User{Username: "u", Email: "u@example.com", HashedPassword: "h"}
	checkErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
	near(t, u.CreatedAt)
	near(t, u.UpdatedAt)
	g, err := s.UserByID(ctx, u.ID)
	checkErr(t, "UserByID", err, nil)
	checkEqual(t, "user", gotUser(g), ptr(wantUser(*u)))

	tok := &store.RefreshToken{UserID: u.ID, TokenHash: "h", ExpiresAt: t0}
	checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, tok), nil)
	near(t, tok.CreatedAt)

	im := &store.Image{UserID: u.ID, Status: store.StatusCompleted}
	checkErr(t, "CreateImage", s.CreateImage(ctx, im), nil)
	near(t, im.CreatedAt)
	gi, err := s.ImageByID(ctx, u.ID, im.ID)
	checkErr(t, "ImageByID", err, nil)
	checkEqual(t, "image", gotImage(gi), ptr(wantImage(*im)))

	v := &store.Video{UserID: u.ID, Status: store.StatusPending}
	checkErr(t, "CreateVideo", s.CreateVideo(ctx, v), nil)
	near(t, v.CreatedAt)
}

func wantToken(tok store.RefreshToken) store.RefreshToken {
	tok.ExpiresAt, tok.CreatedAt, tok.RevokedAt = ms(tok.ExpiresAt), ms(tok.CreatedAt), msp(tok.RevokedAt)
	return tok
}

func gotToken(tok *store.RefreshToken) *store.RefreshToken {
	if tok == nil {
		return nil
	}
	c := *tok
	c.ExpiresAt, c.CreatedAt, c.RevokedAt = got(c.ExpiresAt), got(c.CreatedAt), gotp(c.RevokedAt)
	return &c
}

func newToken(t *testing.T, s store.Store, userID, hash string, expires time.Time) *store.RefreshToken {
	t.Helper()
	tok := &store.RefreshToken{UserID: userID, TokenHash: hash, ExpiresAt: expires, CreatedAt: t0}
	checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), tok), nil)
	checkID(t, tok.ID)
	return tok
}

func tokenByHash(t *testing.T, s store.Store, hash string) *store.RefreshToken {
	t.Helper()
	tok, err := s.RefreshTokenByHash(t.Context(), hash)
	checkErr(t, "RefreshTokenByHash "+hash, err, nil)
	return tok
}

func testRefreshTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(t, s, "alice")
	tok := newToken(t, s, u.ID, "hash-1", t0.Add(7*24*time.Hour))

	t.Run("Get", func(t *testing.T) {
		checkEqual(t, "token", gotToken(tokenByHash(t, s, "hash-1")), ptr(wantToken(*tok)))
	})
	t.Run("CreateRevoked", func(t *testing.T) {
		r := &store.RefreshToken{UserID: u.ID, TokenHash: "hash-revoked", ExpiresAt: t0.Add(time.Hour),
			CreatedAt: t0, RevokedAt: ptr(t0.Add(time.Minute))}
		checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, r), nil)
		checkEqual(t, "token", gotToken(tokenByHash(t, s, "hash-revoked")), ptr(wantToken(*r)))
	})
	t.Run("DuplicateHash", func(t *testing.T) {
		dup := &store.RefreshToken{UserID: u.ID, TokenHash: "hash-1", ExpiresAt: t0, CreatedAt: t0}
		checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, dup), store.ErrConflict)
	})
	t.Run("UnknownHash", func(t *testing.T) {
		_, err := s.RefreshTokenByHash(ctx, "no-such-hash")
		checkErr(t, "RefreshTokenByHash", err, store.ErrNotFound)
		_, err = s.RevokeRefreshToken(ctx, "no-such-hash", t0)
		checkErr(t, "RevokeRefreshToken", err, store.ErrNotFound)
	})

	first, second := t0.Add(time.Hour), t0.Add(2*time.Hour)
	revokes := []struct {
		name string
		at   time.Time
		won  bool
	}{
		{"First", first, true},
		{"Again", second, false},
	}
	for _, tt := range revokes {
		t.Run("Revoke/"+tt.name, func(t *testing.T) {
			won, err := s.RevokeRefreshToken(ctx, "hash-1", tt.at)
			checkErr(t, "RevokeRefreshToken", err, nil)
			if won != tt.won {
				t.Fatalf("RevokeRefreshToken = %v, want %v", won, tt.won)
			}
			// RevokedAt stays the time of the call that won.
			want := *tok
			want.RevokedAt = &first
			checkEqual(t, "token", gotToken(tokenByHash(t, s, "hash-1")), ptr(wantToken(want)))
		})
	}
}

// testRevokeConcurrently: of several calls revoking one token at the same
// time, exactly one wins. This is what detects a stolen refresh token used
// twice.
func testRevokeConcurrently(t *testing.T, s store.Store) {
	u := newUser(t, s, "alice")
	const calls = 8
	for round := range 5 {
		hash := fmt.Sprintf("hash-%d", round)
		newToken(t, s, u.ID, hash, t0.Add(time.Hour))
		var (
			wg   sync.WaitGroup
			wins = make(chan int, calls)
			errs = make(chan error, calls)
		)
		for i := range calls {
			wg.Go(func() {
				won, err := s.RevokeRefreshToken(t.Context(), hash, t0.Add(time.Duration(i)*time.Second))
				if err != nil {
					errs <- err
				}
				if won {
					wins <- i
				}
			})
		}
		wg.Wait()
		close(wins)
		close(errs)
		for err := range errs {
			t.Fatalf("RevokeRefreshToken: %v", err)
		}
		var winners []int
		for i := range wins {
			winners = append(winners, i)
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d calls won, want exactly 1", round, len(winners))
		}
		tok := tokenByHash(t, s, hash)
		if want := ms(t0.Add(time.Duration(winners[0]) * time.Second)); tok.RevokedAt == nil || !got(*tok.RevokedAt).Equal(want) {
			t.Fatalf("round %d: RevokedAt %v, want the winner's %v", round, tok.RevokedAt, want)
		}
	}
}

func testRevokeUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := newUser(t, s, "alice"), newUser(t, s, "bob")
	earlier, at := t0.Add(time.Minute), t0.Add(time.Hour)
	a1 := newToken(t, s, alice.ID, "a1", t0.Add(24*time.Hour))
	a2 := newToken(t, s, alice.ID, "a2", t0.Add(24*time.Hour))
	a3 := newToken(t, s, alice.ID, "a3", t0.Add(24*time.Hour))
	b1 := newToken(t, s, bob.ID, "b1", t0.Add(24*time.Hour))
	if _, err := s.RevokeRefreshToken(ctx, "a3", earlier); err != nil {
		t.Fatal(err)
	}
	checkErr(t, "RevokeUserRefreshTokens", s.RevokeUserRefreshTokens(ctx, alice.ID, at), nil)

	tests := []struct {
		tok     *store.RefreshToken
		revoked *time.Time
	}{
		{a1, &at},
		{a2, &at},
		{a3, &earlier}, // already revoked: keeps its time
		{b1, nil},      // another user's
	}
	for _, tt := range tests {
		t.Run(tt.tok.TokenHash, func(t *testing.T) {
			want := *tt.tok
			want.RevokedAt = tt.revoked
			checkEqual(t, "token", gotToken(tokenByHash(t, s, tt.tok.TokenHash)), ptr(wantToken(want)))
		})
	}
	t.Run("NoTokens", func(t *testing.T) {
		carol := newUser(t, s, "carol")
		checkErr(t, "RevokeUserRefreshTokens", s.RevokeUserRefreshTokens(ctx, carol.ID, at), nil)
		checkErr(t, "RevokeUserRefreshTokens", s.RevokeUserRefreshTokens(ctx, "000000000000000000000000", at), nil)
	})
}

func testPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(t, s, "alice")
	now := t0.Add(30 * 24 * time.Hour)
	tests := []struct {
		hash    string
		expires time.Time
		revoked bool
		kept    bool
	}{
		{"long-gone", now.Add(-7 * 24 * time.Hour), false, false},
		{"just-expired", now.Add(-time.Second), false, false},
		{"expired-revoked", now.Add(-time.Hour), true, false},
		{"expires-now", now, false, true}, // not before now
		{"valid", now.Add(time.Hour), false, true},
		{"valid-revoked", now.Add(time.Hour), true, true},
	}
	for _, tt := range tests {
		newToken(t, s, u.ID, tt.hash, tt.expires)
		if tt.revoked {
			if _, err := s.RevokeRefreshToken(ctx, tt.hash, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkErr(t, "PurgeExpiredRefreshTokens", s.PurgeExpiredRefreshTokens(ctx, now), nil)
	for _, tt := range tests {
		t.Run(tt.hash, func(t *testing.T) {
			_, err := s.RefreshTokenByHash(ctx, tt.hash)
			if tt.kept {
				checkErr(t, "RefreshTokenByHash", err, nil)
			} else {
				checkErr(t, "RefreshTokenByHash", err, store.ErrNotFound)
			}
		})
	}
}

func wantImage(im store.Image) store.Image {
	im.CreatedAt, im.CompletedAt = ms(im.CreatedAt), msp(im.CompletedAt)
	return im
}

func gotImage(im *store.Image) *store.Image {
	if im == nil {
		return nil
	}
	c := *im
	c.CreatedAt, c.CompletedAt = got(c.CreatedAt), gotp(c.CompletedAt)
	return &c
}

// fullImage has every field set, none to its zero value.
func fullImage(userID string) *store.Image {
	return &store.Image{
		UserID:           userID,
		OriginalFilename: "foto.jpg",
		Description:      "vacaciones",
		OriginalPath:     "/data/images/a.jpg",
		EnhancedPath:     "/data/images/a_enhanced.png",
		OriginalWidth:    640,
		OriginalHeight:   480,
		EnhancedWidth:    1920,
		EnhancedHeight:   1440,
		OutputWidth:      ptr(1920),
		OutputHeight:     ptr(1440),
		ModelType:        "general_v3",
		Scale:            3,
		FaceEnhance:      true,
		Status:           store.StatusFailed,
		ErrorMessage:     ptr("out of memory"),
		ProcessingTimeMS: 1234,
		GPUUsed:          true,
		CreatedAt:        t0,
		CompletedAt:      ptr(t0.Add(1234 * time.Millisecond)),
	}
}

func testImages(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := newUser(t, s, "alice"), newUser(t, s, "bob")
	full := fullImage(alice.ID)
	sparse := &store.Image{UserID: alice.ID, OriginalFilename: "b.png", ModelType: "general_x4v3", Scale: 4,
		Status: store.StatusPending, CreatedAt: t0} // nil OutputWidth, OutputHeight, ErrorMessage, CompletedAt

	for _, tt := range []struct {
		name string
		im   *store.Image
	}{{"Full", full}, {"NilOptionals", sparse}} {
		t.Run("RoundTrip/"+tt.name, func(t *testing.T) {
			checkErr(t, "CreateImage", s.CreateImage(ctx, tt.im), nil)
			checkID(t, tt.im.ID)
			g, err := s.ImageByID(ctx, alice.ID, tt.im.ID)
			checkErr(t, "ImageByID", err, nil)
			checkEqual(t, "image", gotImage(g), ptr(wantImage(*tt.im)))
		})
	}
	if full.ID == sparse.ID {
		t.Fatalf("two images got the same id %s", full.ID)
	}

	t.Run("OtherUser", func(t *testing.T) {
		_, err := s.ImageByID(ctx, bob.ID, full.ID)
		checkErr(t, "ImageByID as bob", err, store.ErrNotFound)
		checkErr(t, "DeleteImage as bob", s.DeleteImage(ctx, bob.ID, full.ID), store.ErrNotFound)
		_, err = s.ImageByID(ctx, alice.ID, full.ID)
		checkErr(t, "ImageByID after bob's delete", err, nil)
	})
	for _, id := range unknownIDs {
		t.Run(fmt.Sprintf("UnknownID/%q", id), func(t *testing.T) {
			_, err := s.ImageByID(ctx, alice.ID, id)
			checkErr(t, "ImageByID", err, store.ErrNotFound)
			checkErr(t, "DeleteImage", s.DeleteImage(ctx, alice.ID, id), store.ErrNotFound)
		})
	}
	t.Run("Delete", func(t *testing.T) {
		checkErr(t, "DeleteImage", s.DeleteImage(ctx, alice.ID, full.ID), nil)
		_, err := s.ImageByID(ctx, alice.ID, full.ID)
		checkErr(t, "ImageByID after delete", err, store.ErrNotFound)
		checkErr(t, "DeleteImage again", s.DeleteImage(ctx, alice.ID, full.ID), store.ErrNotFound)
		_, err = s.ImageByID(ctx, alice.ID, sparse.ID)
		checkErr(t, "ImageByID of the other image", err, nil)
	})
}

// listCase is one page request and the indexes, into the records created
// oldest first, of what must come back.
type listCase struct {
	name  string
	opt   store.ListOptions
	want  []int
	total int64
}

// seq returns the indexes from hi down to lo: a page, newest first.
func seq(hi, lo int) []int {
	var s []int
	for i := hi; i >= lo; i-- {
		s = append(s, i)
	}
	return s
}

// listStatus is the status of the i-th record of a list test: every third
// failed (or error), the rest completed.
func listStatus(i int, failed string) string {
	if i%3 == 0 {
		return failed
	}
	return store.StatusCompleted
}

// listCases are the requests on 25 records of one user, statuses by
// listStatus, created a minute apart.
func listCases(failed string) []listCase {
	var failedIdx []int
	for i := 24; i >= 0; i-- {
		if listStatus(i, failed) == failed {
			failedIdx = append(failedIdx, i)
		}
	}
	return []listCase{
		{"Page1", store.ListOptions{Page: 1, PerPage: 10}, seq(24, 15), 25},
		{"Page2", store.ListOptions{Page: 2, PerPage: 10}, seq(14, 5), 25},
		{"LastPartial", store.ListOptions{Page: 3, PerPage: 10}, seq(4, 0), 25},
		{"PastTheEnd", store.ListOptions{Page: 4, PerPage: 10}, nil, 25},
		{"AllInOne", store.ListOptions{Page: 1, PerPage: 100}, seq(24, 0), 25},
		{"PerPage7Page2", store.ListOptions{Page: 2, PerPage: 7}, seq(17, 11), 25},
		{"Defaults", store.ListOptions{}, seq(24, 15), 25}, // page 1, 10 per page
		{"Status", store.ListOptions{Page: 1, PerPage: 100, Status: failed}, failedIdx, int64(len(failedIdx))},
		{"StatusPage2", store.ListOptions{Page: 2, PerPage: 5, Status: failed}, failedIdx[5:], int64(len(failedIdx))},
		{"StatusNone", store.ListOptions{Page: 1, PerPage: 10, Status: store.StatusPending}, nil, 0},
	}
}

func testListImages(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob, carol := newUser(t, s, "alice"), newUser(t, s, "bob"), newUser(t, s, "carol")
	var ids []string
	for i := range 25 {
		im := fullImage(alice.ID)
		im.Status = listStatus(i, store.StatusFailed)
		im.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		checkErr(t, "CreateImage", s.CreateImage(ctx, im), nil)
		ids = append(ids, im.ID)
		if i < 2 {
			other := fullImage(bob.ID)
			other.CreatedAt = im.CreatedAt
			checkErr(t, "CreateImage", s.CreateImage(ctx, other), nil)
		}
	}
	check := func(t *testing.T, userID string, opt store.ListOptions, want []string, total int64) {
		t.Helper()
		images, n, err := s.ListImages(ctx, userID, opt)
		checkErr(t, "ListImages", err, nil)
		if images == nil {
			t.Errorf("ListImages returned a nil slice, want an empty one")
		}
		gotIDs := []string{}
		for _, im := range images {
			if im.UserID != userID {
				t.Fatalf("ListImages(%s) returned user %s's image", userID, im.UserID)
			}
			gotIDs = append(gotIDs, im.ID)
		}
		if n != total {
			t.Errorf("total %d, want %d", n, total)
		}
		checkEqual(t, "ids", gotIDs, want)
	}
	for _, tt := range listCases(store.StatusFailed) {
		t.Run(tt.name, func(t *testing.T) {
			want := []string{}
			for _, i := range tt.want {
				want = append(want, ids[i])
			}
			check(t, alice.ID, tt.opt, want, tt.total)
		})
	}
	t.Run("Fields", func(t *testing.T) {
		images, _, err := s.ListImages(ctx, alice.ID, store.ListOptions{Page: 1, PerPage: 1})
		checkErr(t, "ListImages", err, nil)
		want := fullImage(alice.ID)
		want.ID, want.Status, want.CreatedAt = ids[24], listStatus(24, store.StatusFailed), t0.Add(24*time.Minute)
		checkEqual(t, "image", gotImage(&images[0]), ptr(wantImage(*want)))
	})
	t.Run("OtherUser", func(t *testing.T) {
		images, n, err := s.ListImages(ctx, bob.ID, store.ListOptions{Page: 1, PerPage: 10})
		checkErr(t, "ListImages", err, nil)
		if len(images) != 2 || n != 2 {
			t.Fatalf("bob has %d images (total %d), want 2", len(images), n)
		}
		check(t, carol.ID, store.ListOptions{Page: 1, PerPage: 10}, []string{}, 0)
	})
}

func wantVideo(v store.Video) store.Video {
	v.CreatedAt, v.CompletedAt = ms(v.CreatedAt), msp(v.CompletedAt)
	return v
}

func gotVideo(v *store.Video) *store.Video {
	if v == nil {
		return nil
	}
	c := *v
	c.CreatedAt, c.CompletedAt = got(c.CreatedAt), gotp(c.CompletedAt)
	return &c
}

// fullVideo has every field set, none to its zero value.
func fullVideo(userID string) *store.Video {
	return &store.Video{
		UserID:           userID,
		OriginalFilename: "clip.mp4",
		Description:      "cumpleaños",
		OriginalPath:     "/data/videos/a.mp4",
		EnhancedPath:     "/data/videos/a_enhanced.mkv",
		ModelType:        "general_v3",
		Scale:            2,
		FaceEnhance:      true,
		DurationSeconds:  12.345,
		FPS:              29.97,
		FrameCount:       370,
		OriginalWidth:    640,
		OriginalHeight:   360,
		EnhancedWidth:    1280,
		EnhancedHeight:   720,
		Status:           store.StatusError,
		ErrorMessage:     ptr("ffmpeg exited with status 1"),
		ProcessingTimeMS: 98765,
		GPUUsed:          true,
		FramesProcessed:  200,
		CreatedAt:        t0,
		CompletedAt:      ptr(t0.Add(98765 * time.Millisecond)),
	}
}

func testVideos(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := newUser(t, s, "alice"), newUser(t, s, "bob")
	full := fullVideo(alice.ID)
	sparse := &store.Video{UserID: alice.ID, OriginalFilename: "b.avi", ModelType: "general_x4v3", Scale: 4,
		Status: store.StatusPending, CreatedAt: t0} // nil ErrorMessage, CompletedAt

	for _, tt := range []struct {
		name string
		v    *store.Video
	}{{"Full", full}, {"NilOptionals", sparse}} {
		t.Run("RoundTrip/"+tt.name, func(t *testing.T) {
			checkErr(t, "CreateVideo", s.CreateVideo(ctx, tt.v), nil)
			checkID(t, tt.v.ID)
			g, err := s.VideoByID(ctx, alice.ID, tt.v.ID)
			checkErr(t, "VideoByID", err, nil)
			checkEqual(t, "video", gotVideo(g), ptr(wantVideo(*tt.v)))
		})
	}

	t.Run("Progress", func(t *testing.T) {
		for _, n := range []int{1, 150, 370} {
			checkErr(t, "UpdateVideoProgress", s.UpdateVideoProgress(ctx, sparse.ID, n), nil)
			g, err := s.VideoByID(ctx, alice.ID, sparse.ID)
			checkErr(t, "VideoByID", err, nil)
			want := *sparse
			want.FramesProcessed = n
			checkEqual(t, "video", gotVideo(g), ptr(wantVideo(want)))
		}
	})
	t.Run("OtherUser", func(t *testing.T) {
		_, err := s.VideoByID(ctx, bob.ID, full.ID)
		checkErr(t, "VideoByID as bob", err, store.ErrNotFound)
		checkErr(t, "DeleteVideo as bob", s.DeleteVideo(ctx, bob.ID, full.ID), store.ErrNotFound)
		_, err = s.VideoByID(ctx, alice.ID, full.ID)
		checkErr(t, "VideoByID after bob's delete", err, nil)
	})
	for _, id := range unknownIDs {
		t.Run(fmt.Sprintf("UnknownID/%q", id), func(t *testing.T) {
			_, err := s.VideoByID(ctx, alice.ID, id)
			checkErr(t, "VideoByID", err, store.ErrNotFound)
			checkErr(t, "DeleteVideo", s.DeleteVideo(ctx, alice.ID, id), store.ErrNotFound)
			checkErr(t, "UpdateVideoProgress", s.UpdateVideoProgress(ctx, id, 1), store.ErrNotFound)
			v := fullVideo(alice.ID)
			v.ID = id
			checkErr(t, "UpdateVideo", s.UpdateVideo(ctx, v), store.ErrNotFound)
		})
	}
	t.Run("Delete", func(t *testing.T) {
		checkErr(t, "DeleteVideo", s.DeleteVideo(ctx, alice.ID, full.ID), nil)
		_, err := s.VideoByID(ctx, alice.ID, full.ID)
		checkErr(t, "VideoByID after delete", err, store.ErrNotFound)
		checkErr(t, "DeleteVideo again", s.DeleteVideo(ctx, alice.ID, full.ID), store.ErrNotFound)
		_, err = s.VideoByID(ctx, alice.ID, sparse.ID)
		checkErr(t, "VideoByID of the other video", err, nil)
	})
}

func testUpdateVideo(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := newUser(t, s, "alice"), newUser(t, s, "bob")
	pending := &store.Video{UserID: alice.ID, OriginalFilename: "a.mp4", OriginalPath: "/data/videos/a.mp4",
		ModelType: "general_v3", Scale: 2, Status: store.StatusPending, CreatedAt: t0}
	checkErr(t, "CreateVideo", s.CreateVideo(ctx, pending), nil)
	untouched := fullVideo(alice.ID)
	checkErr(t, "CreateVideo", s.CreateVideo(ctx, untouched), nil)

	tests := []struct {
		name   string
		update func(v *store.Video)
	}{
		{"InProgress", func(v *store.Video) {
			v.Status = store.StatusInProgress
			v.DurationSeconds, v.FPS, v.FrameCount = 10.5, 24, 252
			v.OriginalWidth, v.OriginalHeight = 640, 360
		}},
		{"Completed", func(v *store.Video) {
			v.Status = store.StatusCompleted
			v.EnhancedPath = "/data/videos/a_enhanced.mkv"
			v.EnhancedWidth, v.EnhancedHeight = 1280, 720
			v.FramesProcessed, v.ProcessingTimeMS, v.GPUUsed = 252, 4321, true
			v.CompletedAt = ptr(t0.Add(time.Hour))
		}},
		{"EveryField", func(v *store.Video) {
			w := fullVideo(v.UserID)
			w.ID, w.CreatedAt = v.ID, v.CreatedAt
			*v = *w
		}},
		{"BackToNil", func(v *store.Video) {
			v.Status = store.StatusPending
			v.ErrorMessage, v.CompletedAt = nil, nil
			v.FramesProcessed = 0
			v.FaceEnhance, v.GPUUsed = false, false
		}},
		{"ImmutableFields", func(v *store.Video) {
			// UserID and CreatedAt are not written: the record keeps
			// its owner and creation time.
			v.UserID = bob.ID
			v.CreatedAt = t0.Add(1000 * time.Hour)
			v.Description = "changed"
		}},
	}
	want := *pending
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := want
			tt.update(&v)
			checkErr(t, "UpdateVideo", s.UpdateVideo(ctx, &v), nil)
			want = v
			want.UserID, want.CreatedAt = alice.ID, pending.CreatedAt
			g, err := s.VideoByID(ctx, alice.ID, pending.ID)
			checkErr(t, "VideoByID", err, nil)
			checkEqual(t, "video", gotVideo(g), ptr(wantVideo(want)))
			_, err = s.VideoByID(ctx, bob.ID, pending.ID)
			checkErr(t, "VideoByID as bob", err, store.ErrNotFound)

			g, err = s.VideoByID(ctx, alice.ID, untouched.ID)
			checkErr(t, "VideoByID", err, nil)
			checkEqual(t, "other video", gotVideo(g), ptr(wantVideo(*untouched)))
		})
	}
}

func testListVideos(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := newUser(t, s, "alice"), newUser(t, s, "bob")
	var ids []string
	for i := range 25 {
		v := fullVideo(alice.ID)
		v.Status = listStatus(i, store.StatusError)
		v.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		checkErr(t, "CreateVideo", s.CreateVideo(ctx, v), nil)
		ids = append(ids, v.ID)
		if i < 3 {
			other := fullVideo(bob.ID)
			other.CreatedAt = v.CreatedAt
			checkErr(t, "CreateVideo", s.CreateVideo(ctx, other), nil)
		}
	}
	for _, tt := range listCases(store.StatusError) {
		t.Run(tt.name, func(t *testing.T) {
			videos, n, err := s.ListVideos(ctx, alice.ID, tt.opt)
			checkErr(t, "ListVideos", err, nil)
			if videos == nil {
				t.Errorf("ListVideos returned a nil slice, want an empty one")
			}
			gotIDs, want := []string{}, []string{}
			for _, v := range videos {
				gotIDs = append(gotIDs, v.ID)
			}
			for _, i := range tt.want {
				want = append(want, ids[i])
			}
			if n != tt.total {
				t.Errorf("total %d, want %d", n, tt.total)
			}
			checkEqual(t, "ids", gotIDs, want)
		})
	}
	t.Run("Fields", func(t *testing.T) {
		videos, _, err := s.ListVideos(ctx, alice.ID, store.ListOptions{Page: 25, PerPage: 1})
		checkErr(t, "ListVideos", err, nil)
		want := fullVideo(alice.ID)
		want.ID, want.Status = ids[0], listStatus(0, store.StatusError)
		checkEqual(t, "video", gotVideo(&videos[0]), ptr(wantVideo(*want)))
	})
	t.Run("OtherUser", func(t *testing.T) {
		videos, n, err := s.ListVideos(ctx, bob.ID, store.ListOptions{Page: 1, PerPage: 10})
		checkErr(t, "ListVideos", err, nil)
		if len(videos) != 3 || n != 3 {
			t.Fatalf("bob has %d videos (total %d), want 3", len(videos), n)
		}
	})
}

func testVideosByStatus(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := newUser(t, s, "alice"), newUser(t, s, "bob")
	// Created out of time order, alternating users, so that neither
	// insertion order nor owner can pass for oldest first.
	videos := []struct {
		user   *store.User
		status string
		minute int
	}{
		{alice, store.StatusPending, 5},
		{bob, store.StatusInProgress, 1},
		{alice, store.StatusCompleted, 0},
		{bob, store.StatusPending, 3},
		{alice, store.StatusInProgress, 2},
		{bob, store.StatusError, 4},
		{alice, store.StatusPending, 6},
	}
	ids := map[int]string{} // by minute
	for _, tt := range videos {
		v := fullVideo(tt.user.ID)
		v.Status, v.CreatedAt = tt.status, t0.Add(time.Duration(tt.minute)*time.Minute)
		checkErr(t, "CreateVideo", s.CreateVideo(ctx, v), nil)
		ids[tt.minute] = v.ID
	}
	tests := []struct {
		name     string
		statuses []string
		minutes  []int
	}{
		{"Resumable", []string{store.StatusPending, store.StatusInProgress}, []int{1, 2, 3, 5, 6}},
		{"OneStatus", []string{store.StatusError}, []int{4}},
		{"Unused", []string{store.StatusFailed}, nil},
		{"NoStatuses", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := s.VideosByStatus(ctx, tt.statuses...)
			checkErr(t, "VideosByStatus", err, nil)
			gotIDs, want := []string{}, []string{}
			for _, v := range vs {
				gotIDs = append(gotIDs, v.ID)
			}
			for _, m := range tt.minutes {
				want = append(want, ids[m])
			}
			checkEqual(t, "ids", gotIDs, want)
		})
	}
	t.Run("Fields", func(t *testing.T) {
		vs, err := s.VideosByStatus(ctx, store.StatusError)
		checkErr(t, "VideosByStatus", err, nil)
		want := fullVideo(bob.ID)
		want.ID, want.CreatedAt = ids[4], t0.Add(4*time.Minute)
		checkEqual(t, "video", gotVideo(&vs[0]), ptr(wantVideo(*want)))
	})
}
