// Command integrations serves GitBook's integrations API v1.
//
//	integrations serve [flags]       start the server
//	integrations seed [flags] FILE   load a fixture file (YAML or JSON)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"integrations"
	"integrations/api"
	"integrations/fixture"
	"integrations/service"
	"integrations/sqlite"
)

const usage = `Usage:
  integrations serve [flags]        start the API server
  integrations seed [flags] FILE    load a fixture file (YAML or JSON) into the database

Run "integrations <command> -h" for the flags of a command. Every flag can
also be set with the environment variable named in its description.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "integrations:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "seed":
		return seed(ctx, args[1:], stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// env returns the value of an environment variable, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func databaseFlag(fs *flag.FlagSet) *string {
	return fs.String("database", env("INTEGRATIONS_DATABASE", "sqlite:integrations.db"),
		"database URL: sqlite:PATH[?synchronous=full] ($INTEGRATIONS_DATABASE)")
}

// openStore opens the store named by a database URL.
func openStore(ctx context.Context, url string) (integrations.Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		return sqlite.Open(ctx, url)
	}
	return nil, fmt.Errorf("unsupported database URL %q: expected sqlite:PATH", url)
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", env("INTEGRATIONS_ADDR", "127.0.0.1:8080"), "address to listen on ($INTEGRATIONS_ADDR)")
	database := databaseFlag(fs)
	publicURL := fs.String("public-url", env("INTEGRATIONS_PUBLIC_URL", ""), "base of the absolute URLs in responses; default http://ADDR ($INTEGRATIONS_PUBLIC_URL)")
	adminToken := fs.String("admin-token", env("INTEGRATIONS_ADMIN_TOKEN", ""), "API token of the staff user; created and printed once if empty on a new database ($INTEGRATIONS_ADMIN_TOKEN)")
	maxBody := fs.Int64("max-body-bytes", envInt("INTEGRATIONS_MAX_BODY_BYTES", api.DefaultMaxBodyBytes), "largest request body accepted ($INTEGRATIONS_MAX_BODY_BYTES)")
	logLevel := fs.String("log-level", env("INTEGRATIONS_LOG_LEVEL", "info"), "debug, info, warn or error ($INTEGRATIONS_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, err := openStore(ctx, *database)
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := service.New(ctx, store)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	created, err := svc.EnsureAdmin(ctx, *adminToken)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	if created != "" {
		fmt.Fprintf(stderr, "Created the admin user. Its API token, shown only this once:\n\n    %s\n\nPass it as --admin-token (or INTEGRATIONS_ADMIN_TOKEN) to keep using it.\n\n", created)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *publicURL == "" {
		*publicURL = "http://" + ln.Addr().String()
	}
	handler := api.New(svc, api.Config{PublicURL: *publicURL, MaxBodyBytes: *maxBody, Logger: logger})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String(), "public_url", *publicURL, "database", redact(*database))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// redact hides the password of a database URL for the logs.
func redact(url string) string {
	if at := strings.LastIndex(url, "@"); at > 0 {
		if scheme := strings.Index(url, "://"); scheme > 0 && scheme < at {
			if colon := strings.Index(url[scheme+3:at], ":"); colon >= 0 {
				return url[:scheme+3+colon] + ":***" + url[at:]
			}
		}
	}
	return url
}

func seed(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	database := databaseFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("seed needs exactly one fixture file")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	f, err := fixture.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	store, err := openStore(ctx, *database)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := fixture.Apply(ctx, store, f); err != nil {
		return fmt.Errorf("%s: %w (nothing was changed)", fs.Arg(0), err)
	}
	fmt.Fprintf(stderr, "Seeded %s: %d users, %d organizations, %d spaces, %d integrations, %d installations.\n",
		fs.Arg(0), len(f.Users), len(f.Organizations), len(f.Spaces), len(f.Integrations), len(f.Installations))
	return nil
}
