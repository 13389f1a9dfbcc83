// compose-check loads Docker Compose files the way `docker compose config` does, with the
// compose-spec reference library (compose-go): YAML parsing, the Compose JSON schema,
// interpolation from an env file, merging, normalization and the consistency checks (unknown
// services in depends_on, undefined networks or volumes, ...). It prints the resolved project as
// JSON on stdout, or the problem on stderr with exit code 1. It runs without a Docker engine.
//
// Usage: compose-check [-env-file FILE]... [-project-directory DIR] -f FILE [-f FILE]...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var files, envFiles fileList
	flag.Var(&files, "f", "Compose file (repeatable)")
	flag.Var(&envFiles, "env-file", "file of variables for interpolation (repeatable); the process environment is not used")
	projectDir := flag.String("project-directory", ".", "directory relative paths are resolved against")
	flag.Parse()
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr, "compose-check: at least one -f FILE is required")
		os.Exit(2)
	}

	options, err := cli.NewProjectOptions(
		files,
		cli.WithWorkingDirectory(*projectDir),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
	os.Exit(1)
}
