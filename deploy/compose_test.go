package deploy_test

import (
	"bytes"
	"context"
	"debug/elf"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	dfinstructions "github.com/moby/buildkit/frontend/dockerfile/instructions"
	dflinter "github.com/moby/buildkit/frontend/dockerfile/linter"
	dfparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	dfshell "github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/nats-io/nats-server/v2/server"
	"go.yaml.in/yaml/v3"

	"github.com/passerelle-dev/passerelle/workers/accounts"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

// The checks of this file read the repository's deployment files: the Dockerfile,
// docker-compose.yml (repository root) and the NATS configurations, and hold them to
// what the code accepts.

// repoFile is the path of a file of the repository, from this directory.
func repoFile(elem ...string) string {
	return filepath.Join(append([]string{".."}, elem...)...)
}

// readRepoFile reads a file of the repository.
func readRepoFile(t *testing.T, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoFile(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runSettings returns the settings `passerelle run` reads, with their defaults, from
// the README's configuration table (cmd/passerelle's TestConfigurationDocumented
// holds that table to config.go).
func runSettings(t *testing.T) map[string]string {
	t.Helper()
	readme := string(readRepoFile(t, "README.md"))
	start := strings.Index(readme, "\n## Configuration")
	if start < 0 {
		t.Fatal("README.md has no Configuration section")
	}
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	if end := strings.Index(section, "\n### "); end >= 0 {
		section = section[:end] // the accounts file's tables follow
	}
	settings := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `((?:PASSERELLE_|NATS_)[A-Z0-9_]+)` \\|([^|]*)\\|").FindAllStringSubmatch(section, -1) {
		settings[m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`")
	}
	if len(settings) < 10 || settings["NATS_URL"] == "" {
		t.Fatalf("README.md's configuration table: found only %v", settings)
	}
	return settings
}

// otelVariables are the standard OTEL_* variables that passerelle's OpenTelemetry
// SDK reads for traces, metrics and the resource (workers/telemetry: the SDK,
// autoexport and the OTLP exporters).
func otelVariables() map[string]bool {
	vars := map[string]bool{}
	for _, v := range []string{
		"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
		"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
		"OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
		"OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT",
		"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT",
		"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT",
		"OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
	} {
		vars[v] = true
	}
	for _, signal := range []string{"", "TRACES_", "METRICS_"} {
		for _, s := range []string{"ENDPOINT", "HEADERS", "TIMEOUT", "COMPRESSION", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY", "INSECURE", "PROTOCOL"} {
			vars["OTEL_EXPORTER_OTLP_"+signal+s] = true
		}
	}
	return vars
}

// checkPasserelleVariable reports whether name, set in the environment of `passerelle
// run`, is one it reads: a PASSERELLE_*/NATS_* setting of the README or a standard
// OTEL_* variable. Other names are left to the caller.
func checkPasserelleVariable(name string, settings map[string]string) (known, ours bool) {
	switch {
	case strings.HasPrefix(name, "PASSERELLE_") || strings.HasPrefix(name, "NATS_"):
		_, ok := settings[name]
		return ok, true
	case strings.HasPrefix(name, "OTEL_"):
		return otelVariables()[name], true
	}
	return false, false
}

// subcommands returns the names of passerelle's subcommands, read from commands()
// in cmd/passerelle/run.go, plus "version".
func subcommands(t *testing.T) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, repoFile("cmd", "passerelle", "run.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"version": true}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "commands" {
			continue
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || len(lit.Elts) == 0 {
				return true
			}
			if s, ok := lit.Elts[0].(*ast.BasicLit); ok && s.Kind == token.STRING {
				if name, err := strconv.Unquote(s.Value); err == nil {
					names[name] = true
				}
			}
			return true
		})
	}
	if !names["run"] || !names["emulate"] || !names["dev"] {
		t.Fatalf("commands() in cmd/passerelle/run.go: found only %v", names)
	}
	return names
}

// composeProject loads docker-compose.yml as `docker compose` does, with every
// profile and an empty environment (so ${VAR:-default} takes its default). The
// loader validates the file against the Compose specification's schema: an unknown
// key is an error.
func composeProject(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("passerelle", true)
		o.Profiles = []string{"*"}
	})
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

// imageFile is what deploy/Dockerfile says of the image it builds.
type imageFile struct {
	stages     []dfinstructions.Stage
	final      *dfinstructions.Stage
	buildStage *dfinstructions.Stage
	// buildArgs is the go build command line, its variables expanded with the ARG
	// defaults and ENV of its stage; buildEnv the variables set on it.
	buildArgs []string
	buildEnv  []string
	output    string // the -o of go build
	binary    string // where the final stage puts it
	entry     []string
	cmd       []string
	user      string
	health    []string
	exposed   []string
	warnings  []string
}

// dockerfile parses deploy/Dockerfile with BuildKit's own parser.
func dockerfile(t *testing.T) *imageFile {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	res, err := dfparser.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	img := &imageFile{}
	for _, w := range res.Warnings {
		img.warnings = append(img.warnings, w.Short)
	}
	lint := dflinter.New(&dflinter.Config{Warn: func(rule, _, _, msg string, _ []dfparser.Range) {
		img.warnings = append(img.warnings, rule+": "+msg)
	}})
	stages, metaArgs, err := dfinstructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(stages) == 0 {
		t.Fatal("Dockerfile: no stage")
	}
	img.stages, img.final = stages, &stages[len(stages)-1]
	globalArgs := argDefaults(nil, metaArgs)
	for i := range stages {
		st := &stages[i]
		vars := slices.Clone(globalArgs)
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *dfinstructions.ArgCommand:
				vars = argDefaults(vars, []dfinstructions.ArgCommand{*c})
			case *dfinstructions.EnvCommand:
				for _, kv := range c.Env {
					vars = append(vars, kv.Key+"="+kv.Value)
				}
			case *dfinstructions.RunCommand:
				if len(c.CmdLine) == 0 || !strings.Contains(strings.Join(c.CmdLine, " "), "go build") {
					continue
				}
				line := strings.Join(c.CmdLine, " ")
				words, err := dfshell.NewLex(res.EscapeToken).ProcessWords(line, dfshell.EnvsFromSlice(vars))
				if err != nil {
					t.Fatalf("Dockerfile: RUN %s: %v", line, err)
				}
				env := slices.Clone(vars) // ARG values included, as BuildKit passes them
				for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
					env = append(env, words[0])
					words = words[1:]
				}
				img.buildStage, img.buildArgs, img.buildEnv = st, words, env
				if i := slices.Index(words, "-o"); i >= 0 && i+1 < len(words) {
					img.output = words[i+1]
				}
			}
		}
	}
	for _, c := range img.final.Commands {
		switch c := c.(type) {
		case *dfinstructions.CopyCommand:
			if img.buildStage != nil && c.From == img.buildStage.Name && slices.Contains(c.SourcePaths, img.output) {
				img.binary = c.DestPath
			}
		case *dfinstructions.EntrypointCommand:
			img.entry = c.CmdLine
			if c.PrependShell {
				img.entry = append([]string{"/bin/sh", "-c"}, c.CmdLine...)
			}
		case *dfinstructions.CmdCommand:
			img.cmd = c.CmdLine
		case *dfinstructions.UserCommand:
			img.user = c.User
		case *dfinstructions.HealthCheckCommand:
			img.health = c.Health.Test
		case *dfinstructions.ExposeCommand:
			img.exposed = append(img.exposed, c.Ports...)
		}
	}
	return img
}

// argDefaults adds the ARGs that have a default to vars.
func argDefaults(vars []string, args []dfinstructions.ArgCommand) []string {
	for _, a := range args {
		for _, kv := range a.Args {
			if kv.Value != nil {
				vars = append(vars, kv.Key+"="+*kv.Value)
			}
		}
	}
	return vars
}

// imageUID returns the numeric user id the image runs as.
func (img *imageFile) imageUID(t *testing.T) int64 {
	t.Helper()
	user, _, _ := strings.Cut(img.user, ":")
	uid, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		t.Fatalf("Dockerfile: USER %q is not numeric: Kubernetes' runAsNonRoot cannot verify a user name", img.user)
	}
	return uid
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	img := dockerfile(t)
	commands := subcommands(t)
	settings := runSettings(t)

	if len(img.warnings) > 0 {
		t.Errorf("Dockerfile: BuildKit warns: %q", img.warnings)
	}
	if len(img.stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a build stage and a runtime stage", len(img.stages))
	}
	if base := img.final.BaseName; !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("Dockerfile: the final stage is FROM %s, want distroless static (or scratch with CA certificates and tzdata)", base)
	}
	if img.buildStage == nil {
		t.Fatal("Dockerfile: no RUN with go build")
	}
	if img.buildStage == img.final {
		t.Error("Dockerfile: go build runs in the final stage: the Go toolchain would ship in the image")
	}
	if !strings.HasPrefix(img.buildStage.BaseName, "golang:") {
		t.Errorf("Dockerfile: the build stage is FROM %s, want golang:<version>", img.buildStage.BaseName)
	}
	if len(img.buildArgs) < 2 || img.buildArgs[0] != "go" || img.buildArgs[1] != "build" {
		t.Errorf("Dockerfile: the build command is %q, want go build ...", img.buildArgs)
	}
	if last := img.buildArgs[len(img.buildArgs)-1]; last != "./cmd/passerelle" {
		t.Errorf("Dockerfile: go build builds %q, want ./cmd/passerelle", last)
	}
	if !slices.Contains(img.buildEnv, "CGO_ENABLED=0") {
		t.Errorf("Dockerfile: go build runs with %q, want CGO_ENABLED=0 (a static binary for a base without libc)", img.buildEnv)
	}
	if img.output == "" || img.binary == "" {
		t.Errorf("Dockerfile: the final stage does not COPY --from=%s the binary that go build writes to %q", img.buildStage.Name, img.output)
	}
	if len(img.entry) != 1 || img.entry[0] != img.binary {
		t.Errorf("Dockerfile: ENTRYPOINT %q, want the exec form [%q]", img.entry, img.binary)
	}
	if len(img.cmd) == 0 || !commands[img.cmd[0]] {
		t.Errorf("Dockerfile: CMD %q is not a passerelle subcommand", img.cmd)
	}
	if uid := img.imageUID(t); uid == 0 {
		t.Errorf("Dockerfile: USER %q is root", img.user)
	}
	// HEALTHCHECK ["CMD", binary, subcommand, ...]: the exec form, since the base has no shell.
	if len(img.health) < 3 || img.health[0] != "CMD" || img.health[1] != img.binary || !commands[img.health[2]] {
		t.Errorf("Dockerfile: HEALTHCHECK %q, want [\"CMD\", %q, <subcommand>...] (no shell in the image)", img.health, img.binary)
	}
	_, port, err := net.SplitHostPort(settings["PASSERELLE_HTTP_LISTEN"])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(img.exposed, port) && !slices.Contains(img.exposed, port+"/tcp") {
		t.Errorf("Dockerfile: EXPOSE %q, want the port of PASSERELLE_HTTP_LISTEN's default (%s)", img.exposed, port)
	}
}

// TestDockerfileCopiesEveryPackage checks that the build stage copies every package
// of the module that ./cmd/passerelle needs, with its embedded files: a new
// top-level directory would otherwise break `docker build` only.
func TestDockerfileCopiesEveryPackage(t *testing.T) {
	t.Parallel()
	img := dockerfile(t)
	if img.buildStage == nil {
		t.Fatal("Dockerfile: no RUN with go build")
	}
	var copied []string
	for _, c := range img.buildStage.Commands {
		if c, ok := c.(*dfinstructions.CopyCommand); ok && c.From == "" {
			for _, src := range c.SourcePaths {
				copied = append(copied, filepath.Clean(src))
			}
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", "./cmd/passerelle")
	cmd.Dir, cmd.Env = root, append(os.Environ(), img.buildEnv...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a dependency's module
		}
		covered := slices.ContainsFunc(copied, func(src string) bool {
			return src == "." || rel == src || strings.HasPrefix(rel, src+string(filepath.Separator))
		})
		if !covered {
			t.Errorf("Dockerfile: package directory %s is not copied into the build stage (COPY %q)", rel, copied)
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if !slices.Contains(copied, f) && !slices.Contains(copied, ".") {
			t.Errorf("Dockerfile: %s is not copied into the build stage", f)
		}
	}
}

// TestDockerfileBuild builds the binary exactly as the Dockerfile does, checks that it
// is static, and runs every passerelle command line of docker-compose.yml with
// --help: each parses (subcommand and flags) as the containers will.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds passerelle as the Dockerfile does")
	}
	t.Parallel()
	img := dockerfile(t)
	if len(img.buildArgs) < 3 || img.output == "" {
		t.Fatalf("Dockerfile: no go build -o command: %q", img.buildArgs)
	}
	args := slices.Clone(img.buildArgs)
	bin := filepath.Join(t.TempDir(), "passerelle")
	args[slices.Index(args, "-o")+1] = bin
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, args[0], args[1:]...)
	build.Dir, build.Env = root, append(os.Environ(), img.buildEnv...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (program header %v): it cannot run on a base without libc", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %q", libs)
	}

	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = []string{} // the container's environment, not this machine's
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(img.cmd...); err == nil || !strings.Contains(out, "PASSERELLE_ACCOUNTS_FILE") {
		t.Errorf("the image's default command %q without configuration = %v, %q; want an error naming PASSERELLE_ACCOUNTS_FILE", img.cmd, err, out)
	}
	if len(img.health) < 3 {
		t.Fatalf("Dockerfile: HEALTHCHECK %q runs no passerelle subcommand", img.health)
	}
	lines := [][]string{append(slices.Clone(img.cmd), "--help"), append(slices.Clone(img.health[2:]), "--help")}
	for _, s := range composeProject(t).AllServices() {
		if !builtFromDockerfile(s) {
			continue
		}
		lines = append(lines, append(slices.Clone(s.Command), "--help"))
		if hc := s.HealthCheck; hc != nil && len(hc.Test) > 2 && hc.Test[1] == img.binary {
			lines = append(lines, append(slices.Clone(hc.Test[2:]), "--help"))
		}
	}
	for _, l := range lines {
		out, err := run(l...)
		if err != nil || !strings.Contains(out, "Usage: passerelle "+l[0]) {
			t.Errorf("passerelle %s = %v:\n%s", strings.Join(l, " "), err, out)
		}
	}
}

// builtFromDockerfile tells whether a service runs the image of deploy/Dockerfile.
func builtFromDockerfile(s types.ServiceConfig) bool {
	return s.Build != nil && filepath.Base(s.Build.Dockerfile) == "Dockerfile" && strings.Contains(filepath.ToSlash(s.Build.Dockerfile), "deploy/")
}

func TestComposeServices(t *testing.T) {
	t.Parallel()
	p := composeProject(t)
	for _, name := range []string{"nats", "passerelle", "choruspro-emulator", "pasrau-emulator", "otel-collector", "jaeger", "prometheus", "dev"} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("docker-compose.yml: service %s is missing", name)
		}
	}
	commands := subcommands(t)
	img := dockerfile(t)
	ran := map[string]int{} // subcommand (with the emulated API) -> services
	for _, s := range p.AllServices() {
		if !builtFromDockerfile(s) {
			continue
		}
		if len(s.Command) == 0 || !commands[s.Command[0]] {
			t.Errorf("docker-compose.yml: service %s runs %q, not a passerelle subcommand", s.Name, s.Command)
			continue
		}
		what := s.Command[0]
		if what == "emulate" && len(s.Command) > 1 {
			what += " " + s.Command[1]
		}
		ran[what]++
		if s.Image == "" {
			t.Errorf("docker-compose.yml: service %s builds the image without naming it: every service would build its own copy", s.Name)
		}
		if hc := s.HealthCheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] == "CMD" {
			if len(hc.Test) < 3 || hc.Test[1] != img.binary || !commands[hc.Test[2]] {
				t.Errorf("docker-compose.yml: service %s's health check %q is not [\"CMD\", %q, <subcommand>...]", s.Name, hc.Test, img.binary)
			}
		}
	}
	for _, want := range []string{"run", "dev", "emulate choruspro", "emulate pasrau"} {
		if ran[want] == 0 {
			t.Errorf("docker-compose.yml: no service runs passerelle %s from the image of deploy/Dockerfile", want)
		}
	}

	worker, err := p.GetService("passerelle")
	if err != nil {
		t.Fatal(err)
	}
	if worker.Deploy == nil || worker.Deploy.Replicas == nil || *worker.Deploy.Replicas != 2 {
		t.Errorf("docker-compose.yml: passerelle's deploy.replicas is not 2")
	}
	for _, port := range worker.Ports {
		if port.Published != "" {
			t.Errorf("docker-compose.yml: passerelle publishes container port %d on host port %s: its replicas cannot share it", port.Target, port.Published)
		}
	}
	for _, dep := range []string{"nats", "choruspro-emulator", "pasrau-emulator"} {
		if d, ok := worker.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("docker-compose.yml: passerelle does not wait for %s to be healthy", dep)
		}
	}
	settings := runSettings(t)
	env := composeEnv(worker)
	minStop := duration(t, settingOr(env, settings, "PASSERELLE_SHUTDOWN_GRACE")) + duration(t, settingOr(env, settings, "PASSERELLE_CALL_BUDGET")) + 10*time.Second
	if worker.StopGracePeriod == nil || time.Duration(*worker.StopGracePeriod) < minStop {
		t.Errorf("docker-compose.yml: passerelle's stop_grace_period is %v; SIGKILL would cut its drain short (want at least %s: shutdown grace, call budget, telemetry flush)", worker.StopGracePeriod, minStop)
	}
	for _, dep := range []string{"otel-collector", "jaeger"} {
		if _, err := p.GetService(dep); err != nil {
			t.Errorf("docker-compose.yml: %s is missing", dep)
		}
	}
	if u, err := url.Parse(env["OTEL_EXPORTER_OTLP_ENDPOINT"]); err != nil || u.Hostname() != "otel-collector" {
		t.Errorf("docker-compose.yml: passerelle's OTEL_EXPORTER_OTLP_ENDPOINT %q is not the otel-collector service", env["OTEL_EXPORTER_OTLP_ENDPOINT"])
	}
}

// composeEnv returns a service's environment (variables without a value are left out).
func composeEnv(s types.ServiceConfig) map[string]string {
	env := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	return env
}

// settingOr returns the value of a setting in env, else its documented default.
func settingOr(env, settings map[string]string, name string) string {
	if v, ok := env[name]; ok {
		return v
	}
	return settings[name]
}

func duration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestComposeEnvironment checks that every variable given to `passerelle run` is one
// it reads, that its accounts file is mounted, and that every env: reference of that
// file is set and every file: reference mounted.
func TestComposeEnvironment(t *testing.T) {
	t.Parallel()
	p := composeProject(t)
	settings := runSettings(t)
	found := false
	for _, s := range p.AllServices() {
		if !builtFromDockerfile(s) || len(s.Command) == 0 || s.Command[0] != "run" {
			continue
		}
		found = true
		env := composeEnv(s)
		af, ok := env["PASSERELLE_ACCOUNTS_FILE"]
		if !ok {
			t.Errorf("docker-compose.yml: service %s sets no PASSERELLE_ACCOUNTS_FILE (required)", s.Name)
			continue
		}
		host := composeMountSource(s, af)
		if host == "" {
			t.Errorf("docker-compose.yml: service %s: PASSERELLE_ACCOUNTS_FILE %s is not a mounted file", s.Name, af)
			continue
		}
		b, err := os.ReadFile(host)
		if err != nil {
			t.Fatal(err)
		}
		file, err := accounts.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		envRefs, fileRefs := accountReferences(file)
		for name := range env {
			known, ours := checkPasserelleVariable(name, settings)
			switch {
			case ours && !known:
				t.Errorf("docker-compose.yml: service %s sets %s, which passerelle run does not read", s.Name, name)
			case !ours && !envRefs[name]:
				t.Errorf("docker-compose.yml: service %s sets %s, which neither passerelle run nor its accounts file reads", s.Name, name)
			}
		}
		for name := range envRefs {
			if env[name] == "" {
				t.Errorf("docker-compose.yml: service %s: the accounts file reads env:%s, which is not set", s.Name, name)
			}
		}
		for path := range fileRefs {
			if composeMountSource(s, path) == "" {
				t.Errorf("docker-compose.yml: service %s: the accounts file reads %s, which is not mounted", s.Name, path)
			}
		}
		u, err := url.Parse(env["NATS_URL"])
		if err != nil || u.Scheme != "nats" {
			t.Errorf("docker-compose.yml: service %s: NATS_URL %q is not a nats:// URL", s.Name, env["NATS_URL"])
			continue
		}
		if _, err := p.GetService(u.Hostname()); err != nil {
			t.Errorf("docker-compose.yml: service %s: NATS_URL names host %s, not a service", s.Name, u.Hostname())
		}
	}
	if !found {
		t.Fatal("docker-compose.yml: no service runs passerelle run")
	}
}

// accountReferences lists the environment variables (env:NAME) and files (file:PATH,
// p12File, extraCaFile) that an accounts file reads.
func accountReferences(f *accounts.File) (envs, files map[string]bool) {
	envs, files = map[string]bool{}, map[string]bool{}
	ref := func(s accounts.Secret) {
		v := string(s)
		if name, ok := strings.CutPrefix(v, "env:"); ok {
			envs[name] = true
		} else if path, ok := strings.CutPrefix(v, "file:"); ok {
			files[path] = true
		}
	}
	path := func(p string) {
		if p != "" {
			files[p] = true
		}
	}
	for _, a := range f.Accounts {
		if c := a.ChorusPro; c != nil {
			ref(c.ClientSecret)
			ref(c.Password)
			ref(c.P12Password)
			path(c.P12File)
			path(c.ExtraCAFile)
		}
		if p := a.PASRAU; p != nil {
			ref(p.Password)
			path(p.ExtraCAFile)
		}
	}
	return envs, files
}

// composeMountSource returns the host path mounted at target (or in a directory
// mounted above it) in service s, or "".
func composeMountSource(s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if v.Target == target {
			return v.Source
		}
		if rel, ok := strings.CutPrefix(target, strings.TrimSuffix(v.Target, "/")+"/"); ok {
			return filepath.Join(v.Source, filepath.FromSlash(rel))
		}
	}
	return ""
}

// TestComposeMounts checks that every file and directory docker-compose.yml mounts or
// builds from exists in the repository, and that named volumes are declared.
func TestComposeMounts(t *testing.T) {
	t.Parallel()
	p := composeProject(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	inRepo := func(what, path string) {
		rel, err := filepath.Rel(root, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("docker-compose.yml: %s %s is outside the repository", what, path)
			return
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("docker-compose.yml: %s %s does not exist", what, rel)
		}
	}
	for _, s := range p.AllServices() {
		if b := s.Build; b != nil {
			inRepo("service "+s.Name+"'s build context", b.Context)
			inRepo("service "+s.Name+"'s Dockerfile", filepath.Join(b.Context, b.Dockerfile))
		}
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeBind:
				inRepo("service "+s.Name+"'s mount", v.Source)
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("docker-compose.yml: service %s mounts volume %s, which is not declared", s.Name, v.Source)
				}
			}
		}
	}
}

// TestComposeNATS checks the NATS service against deploy/nats.conf: the file is
// mounted where the command reads it, with every file it includes beside it; the
// JetStream store is on a named volume and synced before each acknowledgement; the
// server accepts the configuration with the service's environment; and the users
// that passerelle's NATS_URL names exist with that password.
func TestComposeNATS(t *testing.T) {
	p := composeProject(t) // not parallel: the server reads its variables with os.Getenv
	nats, err := p.GetService("nats")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(nats.Image, "nats:") {
		t.Errorf("docker-compose.yml: the nats service runs %s, want the official nats image", nats.Image)
	}
	conf := ""
	for i, a := range nats.Command {
		if (a == "-c" || a == "--config") && i+1 < len(nats.Command) {
			conf = nats.Command[i+1]
		}
	}
	host := composeMountSource(nats, conf)
	if conf == "" || host == "" {
		t.Fatalf("docker-compose.yml: the nats service's command %q reads no mounted configuration", nats.Command)
	}
	if filepath.Base(host) != "nats.conf" || filepath.Base(filepath.Dir(host)) != "deploy" {
		t.Errorf("docker-compose.yml: the nats service reads %s, want deploy/nats.conf", host)
	}
	text, err := os.ReadFile(host)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*include\s+['"]?([^'"\s;]+)`).FindAllSubmatch(text, -1) {
		inc := string(m[1])
		want := filepath.Join(filepath.Dir(host), inc)
		if got := composeMountSource(nats, filepath.ToSlash(filepath.Join(filepath.Dir(conf), inc))); got != want {
			t.Errorf("docker-compose.yml: nats.conf includes %s, which is not mounted beside it (from %s)", inc, want)
		}
	}
	for k, v := range composeEnv(nats) {
		t.Setenv(k, v)
	}
	opts, err := server.ProcessConfigFile(host)
	if err != nil {
		t.Fatalf("deploy/nats.conf with the nats service's environment: %v", err)
	}
	if !opts.JetStream || !opts.SyncAlways {
		t.Errorf("deploy/nats.conf: JetStream %t, sync_interval always %t; want both", opts.JetStream, opts.SyncAlways)
	}
	storeOnVolume := slices.ContainsFunc(nats.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeVolume && v.Target == opts.StoreDir
	})
	if !storeOnVolume {
		t.Errorf("docker-compose.yml: the JetStream store %s is not on a named volume: it would not survive the container", opts.StoreDir)
	}
	if !slices.ContainsFunc(nats.Ports, func(pc types.ServicePortConfig) bool { return int(pc.Target) == opts.Port }) {
		t.Errorf("docker-compose.yml: NATS's client port %d is not published", opts.Port)
	}
	for _, s := range p.AllServices() {
		if !builtFromDockerfile(s) || len(s.Command) == 0 || s.Command[0] != "run" {
			continue
		}
		u, err := url.Parse(composeEnv(s)["NATS_URL"])
		if err != nil {
			t.Fatal(err)
		}
		if port := u.Port(); port != strconv.Itoa(opts.Port) {
			t.Errorf("docker-compose.yml: service %s: NATS_URL port %s, NATS listens on %d", s.Name, port, opts.Port)
		}
		if len(opts.Users) == 0 && len(opts.Nkeys) == 0 {
			if u.User != nil {
				t.Errorf("docker-compose.yml: service %s: NATS_URL carries credentials, and nats.conf defines no user", s.Name)
			}
			continue
		}
		pw, _ := u.User.Password()
		ok := slices.ContainsFunc(opts.Users, func(usr *server.User) bool {
			return usr.Username == u.User.Username() && usr.Password == pw
		})
		if u.User == nil || !ok {
			t.Errorf("docker-compose.yml: service %s: NATS_URL's user %q is not a user of nats.conf with that password", s.Name, u.User.Username())
		}
	}
}

// TestComposeEmulatorHealthChecks checks that each emulator's health check asks a
// path the emulator answers with 200, on the port it listens on.
func TestComposeEmulatorHealthChecks(t *testing.T) {
	t.Parallel()
	p := composeProject(t)
	emulators := map[string]func() (http.Handler, error){
		"choruspro": func() (http.Handler, error) { return chorusprotest.New(chorusprotest.Config{}) },
		"pasrau":    func() (http.Handler, error) { return pasrautest.New(pasrautest.Config{}) },
	}
	for _, s := range p.AllServices() {
		if !builtFromDockerfile(s) || len(s.Command) < 2 || s.Command[0] != "emulate" {
			continue
		}
		newEmulator, ok := emulators[s.Command[1]]
		if !ok {
			t.Errorf("docker-compose.yml: service %s emulates %q", s.Name, s.Command[1])
			continue
		}
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 5 || hc.Test[2] != "healthcheck" {
			t.Errorf("docker-compose.yml: service %s has no passerelle healthcheck --url: the image's own (/healthz) does not fit an emulator", s.Name)
			continue
		}
		i, l := slices.Index(hc.Test, "--url"), slices.Index(s.Command, "--listen")
		if i < 0 || i+1 >= len(hc.Test) || l < 0 || l+1 >= len(s.Command) {
			t.Errorf("docker-compose.yml: service %s: no --listen in %q or no --url in its health check %q", s.Name, s.Command, hc.Test)
			continue
		}
		listen := s.Command[l+1]
		u, err := url.Parse(hc.Test[i+1])
		if err != nil {
			t.Fatal(err)
		}
		if _, port, _ := net.SplitHostPort(listen); u.Port() != port {
			t.Errorf("docker-compose.yml: service %s listens on %s, its health check asks port %s", s.Name, listen, u.Port())
		}
		h, err := newEmulator()
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		resp, err := srv.Client().Get(srv.URL + u.RequestURI())
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("docker-compose.yml: service %s's health check asks %s, which the emulator answers %s", s.Name, u.RequestURI(), resp.Status)
		}
	}
}

// TestNATSSyncAlways checks that every NATS server configuration under deploy/ with a
// JetStream block syncs each write to disk before acknowledging it.
func TestNATSSyncAlways(t *testing.T) {
	t.Parallel()
	block := regexp.MustCompile(`(?m)^\s*jetstream\s*[:=]?\s*\{`)
	always := regexp.MustCompile(`(?m)^\s*sync_interval\s*[:=]\s*["']?always["']?\s*$`)
	n := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".conf" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !block.Match(b) {
			return nil
		}
		n++
		if !always.Match(b) {
			t.Errorf("%s: its jetstream block does not set sync_interval: always", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no NATS configuration with a jetstream block under deploy/")
	}
}

// TestComposePrometheusScrapesEveryReplica checks the Prometheus configuration that
// docker-compose.yml mounts: it finds passerelle's replicas by the service's name in
// DNS (one address per container) on the port PASSERELLE_HTTP_LISTEN opens, rather
// than a static target that reaches one replica at a time.
func TestComposePrometheusScrapesEveryReplica(t *testing.T) {
	t.Parallel()
	p := composeProject(t)
	prom, err := p.GetService("prometheus")
	if err != nil {
		t.Fatal(err)
	}
	src := composeMountSource(prom, "/etc/prometheus/prometheus.yml")
	if src == "" {
		t.Fatal("service prometheus mounts no /etc/prometheus/prometheus.yml")
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string           `yaml:"job_name"`
			StaticConfigs []map[string]any `yaml:"static_configs"`
			DNSSDConfigs  []struct {
				Names []string `yaml:"names"`
				Type  string   `yaml:"type"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	svc, err := p.GetService("passerelle")
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(composeEnv(svc)["PASSERELLE_HTTP_LISTEN"])
	if err != nil {
		t.Fatalf("passerelle's PASSERELLE_HTTP_LISTEN: %v", err)
	}
	found := false
	for _, sc := range cfg.ScrapeConfigs {
		for _, d := range sc.DNSSDConfigs {
			if slices.Contains(d.Names, svc.Name) && d.Type == "A" && strconv.Itoa(d.Port) == port {
				found = true
			}
		}
		if sc.JobName == "passerelle" && len(sc.StaticConfigs) > 0 {
			t.Errorf("job passerelle has static targets: one replica at a time is scraped")
		}
	}
	if !found {
		t.Errorf("prometheus.yml: no dns_sd_configs of type A naming %q on port %s", svc.Name, port)
	}
}
