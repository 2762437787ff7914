// Package helmtest tests the Helm chart deploy/helm/kfbridge: its test runs
// tools/helmcheck (Helm's CLI built from Helm's Go module, in a module of
// its own) once, which lints and renders the chart for each values file
// and validates the manifests against the Kubernetes API types offline;
// the test then loads each rendered pod's configuration (the ConfigMap's
// file and the pod's environment, secrets from a stand-in Secret) with the
// loader and preflight checks the binaries run at start. The package has
// no code besides its tests.
package helmtest
