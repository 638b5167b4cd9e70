package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"imageenhancer/api"
	"imageenhancer/auth"
	"imageenhancer/enhance"
	"imageenhancer/store"
	"imageenhancer/store/mongo"
	"imageenhancer/store/sqlite"
	"imageenhancer/video"
)

// version is reported by /api/info; release builds set it with
// -ldflags "-X main.version=…".
var version = "dev"

// purgeInterval is how often expired refresh tokens are deleted. MongoDB's
// TTL index does it too; SQLite has only this.
const purgeInterval = time.Hour

// serve runs the API until SIGINT or SIGTERM, then drains it.
func serve() error {
	cfg, err := loadConfig(os.Getenv, ".env")
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	svc, err := newService(ctx, cfg, log)
	if err != nil {
		return err
	}
	// Closed after the HTTP server has drained: running video jobs stay
	// in_progress in the store and resume at the next start.
	defer svc.Close()

	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           svc.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving", "addr", cfg.Addr, "database", svc.database, "runtime", svc.enh.RuntimeName(),
		"data_dir", cfg.DataDir, "engines_dir", cfg.EnginesDir)
	if fe := svc.enh.FaceEnhance(); !fe.Available {
		log.Info("face_enhance unavailable: requests asking for it get a 400", "reason", fe.Reason)
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills at once
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown incomplete", "err", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// service is what serve puts behind its http.Server: the API's handler and
// the parts it runs on.
type service struct {
	handler  http.Handler
	enh      *enhance.Enhancer
	database string   // "sqlite" or "mongodb"
	closers  []func() // in the order of opening
}

// newService builds the service from cfg: the store, authentication, the
// runtime (the GPU when cfg.UseGPU and one is usable, else the CPU), the
// pipeline, the video manager (started: interrupted jobs resume) and the
// API handler; and it purges expired refresh tokens until ctx ends. The
// latency benchmark builds its server with it too.
func newService(ctx context.Context, cfg *config, log *slog.Logger) (svc *service, err error) {
	svc = &service{}
	defer func() {
		if err != nil {
			svc.Close()
		}
	}()
	st, dbName, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	svc.database = dbName
	svc.closers = append(svc.closers, func() { st.Close(context.WithoutCancel(ctx)) })

	secret, err := jwtSecret(cfg, log)
	if err != nil {
		return nil, err
	}
	au, err := auth.New(auth.Config{
		Secret: secret, AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, BcryptCost: cfg.BcryptCost,
	}, st)
	if err != nil {
		return nil, err
	}

	rt, gpuStatus, err := newRuntime(cfg.UseGPU, runtimeConfig{EnginesDir: cfg.EnginesDir, CPUBF16: cfg.CPUBF16, GPUDevices: cfg.GPUDevices}, log)
	if err != nil {
		return nil, err
	}
	enh, err := enhance.New(enhance.Config{
		EnginesDir:      cfg.EnginesDir,
		Runtime:         rt,
		TileSize:        cfg.TileSize,
		TilePad:         cfg.TilePad,
		DefaultScale:    cfg.DefaultScale,
		MaxInputPixels:  cfg.MaxInputPixels,
		MaxOutputPixels: cfg.MaxOutputPixels,
		Concurrency:     cfg.InferenceConcurrency,
		QueueLength:     queueLength(cfg.InferenceQueue),
		Log:             log,
	})
	if err != nil {
		return nil, err
	}
	svc.enh = enh
	svc.closers = append(svc.closers, func() { enh.Close() })

	videos, err := video.NewManager(video.Config{
		DataDir:            cfg.DataDir,
		Workers:            cfg.Video.Workers,
		MaxInputBytes:      cfg.Video.MaxBytes,
		MaxDurationSeconds: cfg.Video.MaxDurationSeconds,
		MaxFrames:          cfg.Video.MaxFrames,
		MaxOutputPixels:    cfg.Video.MaxOutputPixels,
		Encoder:            cfg.Video.Encoder,
		Preset:             cfg.Video.X264Preset,
		DefaultScale:       cfg.DefaultScale,
	}, st, enh)
	if err != nil {
		return nil, err
	}
	svc.closers = append(svc.closers, func() { videos.Close() })
	if err := videos.Start(ctx); err != nil {
		return nil, err
	}

	svc.handler = api.New(api.Config{
		DataDir:           cfg.DataDir,
		MaxBodyBytes:      cfg.MaxBodyBytes,
		VideoMaxBodyBytes: cfg.Video.MaxBodyBytes(),
		SwaggerUIDir:      cfg.SwaggerUIDir,
		Database:          dbName,
		AllowOrigin:       cfg.CORSOrigin,
		Version:           version,
		GPUStatus:         gpuStatus,
	}, log, st, au, enh, videos)
	go purgeTokens(ctx, au, log)
	return svc, nil
}

// Close stops the video manager and releases the models and the store, in
// the reverse order of opening. Calling it twice is safe.
func (s *service) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// queueLength is INFERENCE_QUEUE as enhance.Config wants it: there 0 means
// its default and a negative value no waiting, here 0 means no waiting.
func queueLength(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// openStore opens MongoDB when configured, else the embedded SQLite
// database in DataDir. It returns the store and its name for /api/health.
func openStore(ctx context.Context, cfg *config) (store.Store, string, error) {
	if cfg.MongoURI != "" {
		db, err := mongo.Open(ctx, cfg.MongoURI, cfg.MongoDB)
		if err != nil {
			return nil, "", fmt.Errorf("mongodb: %w", err)
		}
		return db, "mongodb", nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, "", err
	}
	db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "image-enhancer.db"))
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: %w", err)
	}
	return db, "sqlite", nil
}

// purgeTokens deletes expired refresh tokens now and every purgeInterval
// until ctx ends.
func purgeTokens(ctx context.Context, au *auth.Service, log *slog.Logger) {
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		if err := au.PurgeExpired(ctx); err != nil && ctx.Err() == nil {
			log.Warn("purging expired refresh tokens", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
