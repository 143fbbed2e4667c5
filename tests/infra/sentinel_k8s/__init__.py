"""Tests of the sentinel_k8s backend (infra/backends/sentinel_k8s/)."""
