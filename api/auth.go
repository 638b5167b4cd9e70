package api

import (
	"net/http"
	"time"

	"imageenhancer/store"
)

// userJSON is a user as the manual shows it.
type userJSON struct {
	ID        string   `json:"id"`
	Username  string   `json:"username"`
	Email     string   `json:"email"`
	IsActive  bool     `json:"is_active"`
	CreatedAt jsonTime `json:"created_at"`
}

func userView(u *store.User) userJSON {
	return userJSON{ID: u.ID, Username: u.Username, Email: u.Email, IsActive: u.IsActive, CreatedAt: jsonTime(u.CreatedAt)}
}

// tokensJSON is the manual's "tokens" object.
type tokensJSON struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	// ExpiresIn is the access token's lifetime in seconds (OAuth 2's name),
	// so clients know when to refresh.
	ExpiresIn int64 `json:"expires_in"`
}

func (s *Server) tokensView(access, refresh string) tokensJSON {
	return tokensJSON{AccessToken: access, RefreshToken: refresh, TokenType: "bearer", ExpiresIn: int64(s.auth.AccessTTL() / time.Second)}
}

// POST /api/auth/register
func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Username string `json:"username"`
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u, err := s.auth.Register(r.Context(), req.Username, req.Email, req.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"message": "Usuario registrado exitosamente",
		"user":    userView(u),
	})
	return nil
}

// POST /api/auth/login
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	_, t, err := s.auth.Login(r.Context(), req.Email, req.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"message": "Login exitoso",
		"tokens":  s.tokensView(t.AccessToken, t.RefreshToken),
	})
	return nil
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// POST /api/auth/refresh
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) error {
	var req refreshRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	t, err := s.auth.Refresh(r.Context(), req.RefreshToken)
	if err != nil {
		return refreshError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"message": "Tokens renovados exitosamente",
		"tokens":  s.tokensView(t.AccessToken, t.RefreshToken),
	})
	return nil
}

// refreshError words an invalid refresh token as such rather than as the
// access token message.
func refreshError(err error) error {
	if e := classify(err); e.Kind == Unauthorized {
		return errorf(Unauthorized, "Refresh token inválido o expirado")
	}
	return err
}

// POST /api/auth/logout
func (s *Server) logout(w http.ResponseWriter, r *http.Request, u *store.User) error {
	var req refreshRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.auth.Logout(r.Context(), u.ID, req.RefreshToken); err != nil {
		return refreshError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Sesión cerrada exitosamente"})
	return nil
}

// GET /api/auth/me
func (s *Server) me(w http.ResponseWriter, r *http.Request, u *store.User) error {
	writeJSON(w, http.StatusOK, map[string]any{"user": userView(u)})
	return nil
}
